"""The `http` part of the bench (bench/wrk_pages.py): wrk's output parser, the cores, the report table, without any
load."""

from pathlib import Path

import pytest

from bench.wrk_contested import ContestedResult, ContestedRun
from bench.wrk_report import TARGETS, HttpResult, http_section, profile_excerpt, what_would_move_it
from bench.wrk_run import WrkResult, choose_cores, parse_wrk
from bench.wrk_setup import HttpSetup
from tests.bench.test_profiler import fake_profile

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


def test_pinning_only_with_four_cpus_by_default() -> None:
    assert not choose_cores(None, [0, 1]).pinned  # 2 cores: both gunicorns on one would halve them
    assert "2 CPUs" in choose_cores(None, [0, 1]).describe()
    four = choose_cores(None, [0, 1, 2, 3])
    assert (four.generator, four.servers) == ((0,), (1, 2, 3))
    assert choose_cores(True, [0, 1]).servers == (1,)  # --http-pin forces it
    assert not choose_cores(False, [0, 1, 2, 3]).pinned
    assert not choose_cores(True, [0]).pinned


def test_contested_runs_rates_ratios_and_overbookings() -> None:
    result = _result({}, ceilings=[5000.0])
    runs = [
        ContestedRun("2026-12-09", WrkResult(rps=400.0, seconds=2.0, flows={"holds": 200, "confirms": 120}))
        for _ in range(3)
    ]
    runs[2].over = 1
    result.contested = ContestedResult(
        200,
        ceiling=WrkResult(rps=3000.0),
        baselines={
            "lock + update one row": WrkResult(rps=320.0),
            "lock + update + one audit row": WrkResult(rps=160.0),
        },
        runs=runs,
    )
    text = "\n".join(http_section(result, ""))
    # (200 + 120) / 2 s = 160 writes/s: 0.50× the lock + update rate, 1.00× with the audit row.
    assert (
        "| holds + confirmations on contested slots, vs lock + update one row | 160 writes/s | 0.50× |"
        in text
    )
    assert "0.50× lock + update one row, 1.00× lock + update + one audit row" in text
    assert "ceiling at these settings (the bare app): 3,000 requests/s" in text
    assert "Overbookings (SQL after each run): **1**" in text
    runs[2].over = 0
    assert "0 in 3 runs in a row" in "\n".join(http_section(result, ""))


def test_wrk_missing_is_said_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import wrk_run

    monkeypatch.setattr(wrk_run, "wrk_path", lambda: None)
    assert "wrk missing" in wrk_run.wrk_run(["wrk"], 1).failed
    assert "wrk missing" in wrk_run.wrk_run_until(["wrk"], lambda: True, limit=1).failed


def test_every_target_is_issue_12s() -> None:
    assert TARGETS["day page `/book/application/<day>/`"] == 0.3
    assert {TARGETS["city top `/`"], TARGETS["purposes `/book/`"]} == {0.4}


def test_excerpt_names_the_bound() -> None:
    text = "\n".join(profile_excerpt("month calendar", fake_profile()))
    cumulative = text.split("function (top by cumulative")[1].split("function (top by own time)")[0]
    assert "get_response" not in cumulative  # the wrapper covering it all
    assert "`apps/booking/resident/views.py:40 calendar`" in cumulative
    hint = what_would_move_it(fake_profile())
    assert "3 SQL statements per request" in hint
    assert "tenant routing is 30%" in hint
