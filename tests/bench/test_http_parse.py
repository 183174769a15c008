"""The `http` part of the bench (bench/wrk_pages.py): wrk's output parser and the report table, without any load."""

from pathlib import Path

from bench.wrk_pages import TARGETS, HttpResult, HttpSetup, WrkResult, choose_cores, http_section, parse_wrk

WRK_OUTPUT = """\
Running 6s test @ http://127.0.0.1:41234/book/application/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    39.10ms    8.02ms 120.33ms   80.00%
    Req/Sec   410.12     40.50   500.00     70.00%
  Latency Distribution
     50%   38.50ms
     75%   42.00ms
     90%   48.00ms
     99%    1.20s
  4921 requests in 6.01s, 25.10MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:    818.80
Transfer/sec:      4.18MB
FLOWS completed=31 fail.confirm.400=2 fail.hold.409=1
"""


def test_parse_wrk_reads_every_figure() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests == 4921
    assert result.seconds == 6.01
    assert result.rps == 818.80
    assert result.p50_ms == 38.5
    assert result.p99_ms == 1200.0  # seconds converted
    assert result.socket_errors == {"connect": 0, "read": 3, "write": 0, "timeout": 1}
    assert result.non_2xx_3xx == 7
    assert result.errors == 11
    assert result.flows == {"completed": 31, "fail.confirm.400": 2, "fail.hold.409": 1}


def test_parse_wrk_microseconds_and_nothing() -> None:
    result = parse_wrk("     50%  812.00us\n  100 requests in 500.00ms, 1KB read\n")
    assert result.p50_ms == 0.812
    assert result.seconds == 0.5
    empty = parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")
    assert empty.requests == 0
    assert empty.rps == 0.0
    assert empty.errors == 0


def _result(pages: dict[str, WrkResult], ceilings: list[float]) -> HttpResult:
    return HttpResult(
        settings={"generator": "wrk"},
        ceilings=ceilings,
        baselines={"one query (`SELECT 1`)": WrkResult(rps=1000.0)},
        pages=pages,
        flows={
            "resident flow, application support (no card)": WrkResult(
                rps=500.0, seconds=6.0, flows={"completed": 60}
            )
        },
        setup=HttpSetup("2026-12-08", "2026-12-08", cards_file=Path("/nonexistent"), cards=10),
        cores=choose_cores(False),
    )


def test_report_table_ratios_targets_and_client_bound() -> None:
    pages = {
        "month calendar `/book/pickup/`": WrkResult(rps=2600.0),  # above half the ceiling: client-bound
        "day page `/book/application/<day>/`": WrkResult(rps=250.0, non_2xx_3xx=3),  # 0.05× < 0.3×
    }
    lines = http_section(
        _result(pages, ceilings=[4000.0, 5000.0]), "Load average: 1.0", "Measured on its own."
    )
    text = "\n".join(lines)
    assert lines[0].startswith("## 6. HTTP throughput")
    assert "Ceiling: 4,000 and 5,000 requests/s." in text
    # The higher ceiling is the denominator: 2600 / 5000, 250 / 5000, 500 / 5000.
    assert "| month calendar `/book/pickup/` | 2,600 | 0.52× | ≥ 0.5× | yes |" in text
    assert "**client-bound**" in text
    assert "| day page `/book/application/<day>/` | 250 | 0.05× | ≥ 0.3× | **no** |" in text
    assert "3 non-2xx/3xx" in text
    assert "| resident flow, application support (no card) | 500 | 0.10× | ≥ 0.2× | **no** |" in text
    assert "| resident flow, application support (no card) | 60 | 10.0 | 500 | none |" in text
    assert "| one query (`SELECT 1`) | 1,000 | 0.20× |" in text
    assert "Load average: 1.0" in text
    assert "Measured on its own." in text


def test_no_ceiling_gives_no_ratio() -> None:
    text = "\n".join(http_section(_result({"city top `/`": WrkResult(rps=100.0)}, ceilings=[]), ""))
    assert "Ceiling: not measured requests/s." in text
    assert "| city top `/` | 100 | n/a | ≥ 0.4× | — |" in text


def test_every_target_is_issue_12s() -> None:
    assert TARGETS["day page `/book/application/<day>/`"] == 0.3
    assert {TARGETS["city top `/`"], TARGETS["purposes `/book/`"]} == {0.4}
