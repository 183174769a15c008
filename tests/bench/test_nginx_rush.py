"""The `nginx` part of the bench (bench/nginx_rush.py and its modules, bench/wrk/rush.lua, bench/wrk/browse.lua): its arithmetic,
its nginx config (production's generator with the bench's ports and raised limits, `nginx -t`), the CPU accounting
per process tree, and the residents' Lua script driven by wrk against a small fake resident site."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bench.cpu_usage import cpu_snapshot, cpu_used
from bench.nginx_report import nginx_section, targets, unexpected_errors
from bench.nginx_rush import wrk_https
from bench.nginx_server import NginxParams, nginx_path, nginx_write
from bench.nginx_setup import NginxRushResult, RushSetup, release_month, seats_per_slot
from bench.wrk_run import parse_wrk, wrk_path, wrk_run_until
from bench.wrk_setup import SCRIPTS_DIR
from madoguchi.tls import self_signed_certificate


def test_the_release_month_is_the_next_one_and_its_seats_cover_the_target() -> None:
    assert release_month(dt.date(2026, 12, 6)) == dt.date(2027, 1, 1)
    assert release_month(dt.date(2026, 1, 31)) == dt.date(2026, 2, 1)
    assert seats_per_slot(1500, 285) == 6  # 1,710 seats: at least the target
    assert seats_per_slot(60, 285) == 1
    assert seats_per_slot(1500, 0) == 0


WRK_OUTPUT = """Running 1m test @ https://127.0.0.1:40000/
  100 threads and 100 connections
  Latency Distribution
     50%  120.00ms
     99%  900.00ms
  30000 requests in 58.20s, 400.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 1203
Requests/sec:    515.46
FLOWS residents=5000 booked=1500 soldout=3000 gave_up=500 holds=2700 held=1500 hold_taken=1200 confirms=1500 p50_us=120000 p95_us=640000 p99_us=900000 max_us=2100000 fail.form.500=3
"""


def test_the_rush_line_is_parsed_and_just_taken_answers_are_not_errors() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result.flows["residents"] == 5000
    assert result.flows["p95_us"] == 640000
    assert result.flows["fail.form.500"] == 3
    # 1,203 answers outside 2xx/3xx, 1,200 of them the expected "just taken": 3 errors, plus 3 socket errors.
    assert unexpected_errors(result, int(result.flows["hold_taken"])) == 6


def test_targets_say_which_are_met() -> None:
    result = NginxRushResult(residents=5000, connections=100, browsers=20, workers=5, threads=4)
    result.rush = parse_wrk(WRK_OUTPUT)
    result.browse = parse_wrk("  100 requests in 58.00s, 1MB read\nFLOWS top=50 calendar=50 p99_us=1500000\n")
    result.rush_seconds, result.finished = 58.2, True
    verdicts = {name: met for name, _, met in targets(result)}
    assert verdicts == {
        "5,000 residents within 60 s": True,
        "0 errors": False,  # 3 failed forms and 3 socket errors
        "0 overbookings": True,
        "p99 < 1 s (residents and browsing)": False,  # the browsing p99 is 1.5 s
    }
    result.finished = False  # stopped at the cap: not within a minute, however short the run
    assert not next(met for name, _, met in targets(result) if name.endswith("within 60 s"))


def test_the_section_names_each_target_and_the_bound_of_a_miss() -> None:
    result = NginxRushResult(residents=5000, connections=100, browsers=20, workers=5, threads=4)
    result.setup = RushSetup(
        rush_host="bench1.localhost",
        schema="bench1",
        month="2027-01",
        days=["2027-01-04"],
        slots=285,
        seats_per_slot=6,
        seats=1710,
        browse_hosts=[f"bench{n}.localhost" for n in range(2, 22)],
        browse_months=["2026-12", "2027-01"],
    )
    result.rush = parse_wrk(WRK_OUTPUT)
    result.browse = parse_wrk(
        "  4000 requests in 58.00s, 1MB read\nRequests/sec: 69.0\nFLOWS top=2000 p99_us=800000\n"
    )
    result.trivial = [
        parse_wrk("  80000 requests in 8.00s, 1MB read\nRequests/sec: 1000.0\nFLOWS p99_us=300000\n")
    ]
    result.rush_seconds, result.finished = 58.2, True
    result.cpu = {"nginx": 2.0, "gunicorn": 80.0, "postgres": 20.0, "wrk": 2.0, "other": 10.0}
    text = "\n".join(nginx_section(result, argparse.Namespace(nginx_baseline_seconds=8)))
    assert "| 0 overbookings | 0 | yes |" in text
    assert "| p99 < 1 s (residents and browsing) | 900 ms | yes |" in text
    assert "| 0 errors | 6 | **no** |" in text
    assert "What bounds it: " in text  # a miss names its bound
    assert "1,710 seats" in text
    assert "20 other cities" in text


def test_cpu_is_counted_per_process_tree() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        snapshot = cpu_snapshot({"gunicorn": [child.pid]})
        assert child.pid in snapshot["gunicorn"]
        mine = cpu_snapshot({"nginx": [0], "wrk": [os.getpid()]})
        assert child.pid in mine["wrk"]  # a child of this process belongs to its tree
        used = cpu_used({"gunicorn": {1: 1.0}}, {"gunicorn": {1: 3.5, 2: 0.5}})
        assert used["gunicorn"] == pytest.approx(3.0)  # a new process counts from 0
    finally:
        child.kill()
        child.wait(timeout=10)


def _params(tmp_path: Path) -> NginxParams:
    return NginxParams(
        prefix=tmp_path / "nginx",
        listen_port=18950,
        http_port=18951,
        ceiling_port=18952,
        upstream_port=18953,
        tls_dir=tmp_path / "nginx" / "tls",
        hosts=("localhost", "bench1.localhost", "bench2.localhost"),
    )


def test_the_config_is_productions_with_the_bench_ports_and_raised_limits(tmp_path: Path) -> None:
    from madoguchi import nginx

    params = _params(tmp_path)
    main = nginx_write(params)
    sites = {path.name: path.read_text() for path in params.out.iterdir()}
    http = sites["madoguchi-00-http.conf"]
    assert "zone=madoguchi_pages:20m rate=100000r/s" in http
    assert "server 127.0.0.1:18953;" in http
    assert "keepalive 32;" in http
    vendor = sites["madoguchi-10-vendor.conf"]
    assert "listen 127.0.0.1:18950 ssl http2 default_server;" in vendor
    assert "server_name localhost *.localhost;" in vendor
    assert "ssl_stapling" not in vendor
    assert "return 200" in sites["madoguchi-99-bench-ceiling.conf"]
    assert f"include {params.out}/madoguchi-*.conf;" in main.read_text()
    assert (nginx.PAGE_RATE, nginx.LOGIN_RATE) == (
        "50r/s",
        "30r/m",
    )  # production's limits are left as they were


@pytest.mark.skipif(nginx_path() is None, reason="nginx is not installed (apt-get install nginx)")
def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    params = _params(tmp_path)
    self_signed_certificate(
        params.tls_dir / "wildcard.localhost.crt", params.tls_dir / "wildcard.localhost.key", ["localhost"]
    )
    main = nginx_write(params)
    binary = nginx_path()
    assert binary is not None
    done = subprocess.run(
        [binary, "-t", "-p", str(params.prefix), "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr


# --- rush.lua against a fake resident site ---------------------------------------------------------------------------

DAYS = ("2027-01-12", "2027-01-13")
SLOTS_PER_DAY = 3  # one seat each


class FakeSite:
    """The resident pages as rush.lua reads them: a calendar linking the days with a free slot, day pages with
    radio inputs, holds (302 or 409), hold forms and confirmations. One seat per slot."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.free = {day: set(range(SLOTS_PER_DAY)) for day in DAYS}
        self.holds: dict[str, tuple[str, int]] = {}
        self.people: list[str] = []
        self.posts_without_origin = 0
        self.always_taken = False  # every hold answers 409
        self.holds_per_session: dict[str, int] = {}

    def calendar(self) -> str:
        with self.lock:
            days = [day for day, free in self.free.items() if free]
        return "".join(f'<a href="/book/application/{day}/">{day}</a>' for day in days)

    def day(self, day: str) -> str:
        with self.lock:
            free = set(self.free[day])
        inputs = "".join(
            f'<input type="radio" name="slot" id="slot-{i}" value="{i}"{"" if i in free else " disabled"}>'
            for i in range(SLOTS_PER_DAY)
        )
        return f'<input type="hidden" name="csrfmiddlewaretoken" value="tok">{inputs}'

    def hold(self, day: str, slot: int, session: str) -> str | None:
        with self.lock:
            self.holds_per_session[session] = self.holds_per_session.get(session, 0) + 1
            if self.always_taken or slot not in self.free[day]:
                return None
            self.free[day].discard(slot)
            token = str(uuid.uuid4())
            self.holds[token] = (day, slot)
            return token


def _handler(site: FakeSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, body: str = "", location: str | None = None) -> None:
            data = body.encode()
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            if "sessionid=" not in self.headers.get("Cookie", ""):
                self.send_header("Set-Cookie", f"sessionid={uuid.uuid4().hex}; Path=/")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/":
                self._answer(200, "top")
            elif path == "/book/application/":
                self._answer(200, site.calendar())
            elif match := re.fullmatch(r"/book/application/(\d{4}-\d\d-\d\d)/", path):
                self._answer(200, site.day(match.group(1)))
            elif path.startswith("/book/hold/"):
                self._answer(
                    200,
                    '<input type="hidden" name="csrfmiddlewaretoken" value="tok">'
                    '<input type="hidden" name="submission_key" value="key">',
                )
            else:
                self._answer(404)

        def do_POST(self) -> None:
            body = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            if not (self.headers.get("Origin") and self.headers.get("Referer")):
                site.posts_without_origin += 1
            path = urlsplit(self.path).path
            if match := re.fullmatch(r"/book/application/(\d{4}-\d\d-\d\d)/", path):
                session = re.search(r"sessionid=(\w+)", self.headers.get("Cookie", ""))
                token = site.hold(match.group(1), int(body["slot"][0]), session.group(1) if session else "")
                if token is None:
                    self._answer(409, "just taken")
                else:
                    self._answer(302, location=f"/book/hold/{token}/")
            elif path.startswith("/book/hold/"):
                with site.lock:
                    site.people.append("-".join(body[f"p1-birth_date_{i}"][0] for i in (1, 2, 3)))
                self._answer(302, location=f"/book/done/B{len(site.people):05d}/")
            else:
                self._answer(404)

    return Handler


@pytest.fixture
def fake_site() -> Iterator[tuple[FakeSite, int]]:
    site = FakeSite()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site, int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(
    wrk_path() is None, reason="wrk is not installed (make bench-deps, or apt-get install wrk)"
)
def test_rush_lua_runs_each_resident_once_and_stops_after_its_share(
    fake_site: tuple[FakeSite, int], tmp_path: Path
) -> None:
    site, port = fake_site
    residents, connections = 14, 3
    markers = tmp_path / "markers"
    markers.mkdir()
    command = wrk_https(
        port,
        "/",
        host="bench1.localhost",
        connections=connections,
        seconds=30,
        script=SCRIPTS_DIR / "rush.lua",
        script_args=["application", "2027-01", str(residents), str(connections), str(markers), "T"],
        tls=False,
    )
    result = wrk_run_until(command, lambda: len(list(markers.glob("done-*"))) >= connections, limit=30)
    assert not result.failed, result.failed
    flows = result.flows
    seats = len(DAYS) * SLOTS_PER_DAY
    assert flows["residents"] == residents  # every thread ran its share (5 + 5 + 4), then stopped
    assert len(list(markers.glob("done-*"))) == connections
    assert flows["booked"] == seats == len(site.people)  # every seat once, no more
    assert flows["booked"] + flows["soldout"] + flows["gave_up"] == residents
    assert flows["held"] == flows["confirms"] == seats
    assert len(set(site.people)) == len(site.people)  # one person per resident: distinct dates of birth
    assert site.posts_without_origin == 0  # every POST names its Origin and Referer, as a browser does
    assert not [key for key in flows if key.startswith("fail.")]
    assert 0 < flows["p50_us"] <= flows["p95_us"] <= flows["p99_us"] <= flows["max_us"]


@pytest.mark.skipif(
    wrk_path() is None, reason="wrk is not installed (make bench-deps, or apt-get install wrk)"
)
def test_a_resident_gives_up_before_the_apps_per_session_hold_limit(
    fake_site: tuple[FakeSite, int], tmp_path: Path
) -> None:
    site, port = fake_site
    site.always_taken = True  # three free times on each of three days, each "just taken"
    markers = tmp_path / "markers"
    markers.mkdir()
    command = wrk_https(
        port,
        "/",
        host="bench1.localhost",
        connections=2,
        seconds=30,
        script=SCRIPTS_DIR / "rush.lua",
        script_args=["application", "2027-01", "4", "2", str(markers), "T"],
        tls=False,
    )
    result = wrk_run_until(command, lambda: len(list(markers.glob("done-*"))) >= 2, limit=30)
    assert result.flows["gave_up"] == 4
    assert result.flows["hold_taken"] == 4 * 8
    # Each resident is one session (a new cookie jar), and none tries more than eight holds: the app's limit is ten.
    assert set(site.holds_per_session.values()) == {8}
    assert len(site.holds_per_session) == 4


@pytest.mark.skipif(
    wrk_path() is None, reason="wrk is not installed (make bench-deps, or apt-get install wrk)"
)
def test_browse_lua_rotates_hosts_and_pages(fake_site: tuple[FakeSite, int]) -> None:
    _site, port = fake_site
    command = wrk_https(
        port,
        "/",
        host="bench2.localhost",
        connections=2,
        seconds=1,
        script=SCRIPTS_DIR / "browse.lua",
        script_args=["application", "bench2.localhost,bench3.localhost", "2026-12,2027-01"],
        tls=False,
    )
    result = wrk_run_until(command, lambda: False, limit=5)
    assert result.flows["top"] > 0
    assert result.flows["calendar"] > 0
    assert result.flows["page"] == 0
    assert not [key for key in result.flows if key.startswith("fail.")]
