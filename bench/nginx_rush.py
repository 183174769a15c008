"""Part `nginx` of `make bench` (issue 14, item 5): the slot-release rush through a real nginx.

`--nginx-residents` (5,000) residents of one city go after its release month's slots within a minute (top page →
month calendar → a bookable day → hold → hold form → confirmation; bench/wrk/rush.lua), while 20 other cities
browse (top pages and calendars, the Host header rotating per request; bench/wrk/browse.lua). The load is wrk over
https through nginx (TLS with a certificate the bench generates, HTTP/1.1 keep-alive to the upstream) in front of
gunicorn with the production config (`ops/gunicorn.conf.py`, gthread) and bench/settings_bench.py. In the same run
and through the same nginx: the trivial view (/bench/trivial/, every middleware) as the baseline, before and after
the rush, and nginx's own `return 200` (the generator's ceiling: wrk + TLS + nginx, no app). Then SQL counts
overbookings over every day of the release month (bench/wrk_contested.py's CHECK_SQL), and the report states the
targets on this machine (0 errors, 0 overbookings, p99 < 1 s) met or missed, with the bound named from the CPU
each component used during the rush.

nginx is Debian's (`apt-get install nginx`, done here as root when missing; otherwise the section says "nginx
missing"), started as a non-daemon process with its own prefix, config, pid and logs under the bench's data
directory, on free high ports of 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    CITY_HOST_SUFFIX,
    PUBLIC_HOST,
    Sandbox,
    cpu_count,
    free_port,
    gunicorn_start,
    gunicorn_stop,
    load_text,
    log,
    ratio,
    table,
)
from bench.tenancy import Cities
from bench.wrk_contested import CHECK_SQL
from bench.wrk_run import (
    WRK_MISSING,
    Cores,
    WrkResult,
    parse_wrk,
    wrk_command,
    wrk_path,
    wrk_run,
    wrk_version,
)
from bench.wrk_setup import APPLICATION, SCRIPTS_DIR

HEADING = "## 8. Slot-release rush through nginx"
SECTION = "nginx"  # the load-average key
NGINX_MISSING = "nginx missing (`apt-get install nginx` as root)"
TARGET_P99_MS = 1000.0
TARGET_SECONDS = 60.0  # 5,000 residents within a minute
EXPECTED_STATUS = 409  # "just taken": the answer a contested hold is meant to get
NO_CPUS: Cores = Cores((), ())
WARM_UP_ROUNDS = 10  # of 2 s of wrk each, at most


# --- nginx: binary, certificate, configuration, process ------------------------------------------------------------


def nginx_path() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def nginx_ensure() -> str | None:
    """Debian's nginx, installed with apt as root when missing (like `make bench-deps` installs wrk)."""
    if (path := nginx_path()) is not None:
        return path
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for attempt in (["apt-get", "install", "-y", "-qq", "nginx"], ["apt-get", "update", "-qq"]):
        subprocess.run(attempt, env=env, check=False, capture_output=True, timeout=600)
        if (path := nginx_path()) is not None:
            return path
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "nginx"], env=env, check=False, capture_output=True, timeout=600
    )
    return nginx_path()


def certificate_write(cert_path: Path, key_path: Path, hosts: Sequence[str]) -> None:
    """A self-signed certificate (EC P-256, 7 days) for `hosts` (wildcards allowed), as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)


@dataclass(frozen=True)
class NginxParams:
    """What the bench's nginx is made of: its directory, ports, upstream, certificates and the raised rate limits."""

    prefix: Path
    listen_port: int  # https
    http_port: int  # plain http (production's redirect to https)
    ceiling_port: int
    upstream_port: int
    tls_dir: Path
    hosts: tuple[str, ...]  # the Domain table's hosts
    vendor_domain: str = "localhost"
    # Every bench client is 127.0.0.1: production's per-address zones (madoguchi.nginx: 50 r/s for pages, 30 r/m
    # for logins) would answer 429 within a second, so the bench raises them, as MADOGUCHI_BENCH_LIMITS raises the
    # app's own. The zones are still consulted on every request, so they cost what they cost in production.
    page_rate: str = "100000r/s"
    login_rate: str = "100000r/s"
    burst: int = 100000

    @property
    def out(self) -> Path:
        return self.prefix / "sites"


@contextlib.contextmanager
def _bench_limits(params: NginxParams) -> Iterator[None]:
    """madoguchi.nginx's rate limits raised while its templates render (they are read at render time)."""
    from madoguchi import nginx

    names = ("PAGE_RATE", "LOGIN_RATE", "PAGE_BURST", "LOGIN_BURST")
    before = {name: getattr(nginx, name) for name in names}
    values = (params.page_rate, params.login_rate, params.burst, params.burst)
    for name, value in zip(names, values, strict=True):
        setattr(nginx, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(nginx, name, value)


CEILING_SERVER = """# bench/nginx_rush.py only, not production: the generator's ceiling, nginx answering by itself over the same TLS.
server {{
    listen 127.0.0.1:{port} ssl;
    server_name _;
    ssl_certificate     {cert};
    ssl_certificate_key {key};
    access_log off;
    location / {{
        default_type text/plain;
        return 200 "ok";
    }}
}}
"""


def nginx_write(params: NginxParams) -> Path:
    """Production's config for the bench: `manage.py nginx_sites`'s renderer (madoguchi.nginx) on the Domain
    table's hosts with the bench's ports, upstream, certificate and raised limits, its standalone main config
    (pid, logs and temporary files under the prefix), and the ceiling's server beside them. Returns the main
    config's path."""
    from madoguchi import nginx

    site_plan = nginx.plan(params.hosts, params.vendor_domain)
    options = nginx.Options(
        upstream=f"127.0.0.1:{params.upstream_port}",
        tls_dir=params.tls_dir,
        listen_addresses=("127.0.0.1",),
        https_port=params.listen_port,
        http_port=params.http_port,
        access_log=str(params.prefix / "access.log"),
        stapling=False,  # a self-signed certificate has no issuer to staple
    )
    with _bench_limits(params):
        files = nginx.render(site_plan, options)
    nginx.write(files, params.out)
    site = site_plan.sites[0]
    (params.out / f"{nginx.FILE_PREFIX}99-bench-ceiling.conf").write_text(
        CEILING_SERVER.format(
            port=params.ceiling_port, cert=site.certificate(params.tls_dir), key=site.key(params.tls_dir)
        )
    )
    main = params.prefix / "nginx.conf"
    main.write_text(nginx.main_config(out=params.out, state=params.prefix, user=None))
    return main


def _tls_ready(port: int) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=2) as raw,
            context.wrap_socket(raw, server_hostname="localhost"),
        ):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def nginx_running(binary: str, params: NginxParams) -> Iterator[subprocess.Popen[bytes]]:
    """nginx in the foreground (`daemon off`) with the bench's prefix and config; stopped (SIGQUIT, then SIGKILL) at
    the end. `nginx -t` first, so a bad config says why."""
    conf = nginx_write(params)
    command = [binary, "-p", str(params.prefix), "-c", str(conf), "-g", "daemon off;"]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30, check=False)
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t: {check.stderr.strip()[-2000:]}")
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=(params.prefix / "stderr.log").open("ab")
    )
    try:
        deadline = time.monotonic() + 20
        while not (_tls_ready(params.listen_port) and _tls_ready(params.ceiling_port)):
            if process.poll() is not None or time.monotonic() > deadline:
                errors = "".join(
                    (params.prefix / name).read_text(errors="replace")[-1000:]
                    for name in ("error.log", "stderr.log")
                    if (params.prefix / name).exists()
                )
                raise RuntimeError(f"nginx did not start: {errors}")
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful: workers finish their requests
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


# --- the cities ----------------------------------------------------------------------------------------------------


@dataclass
class RushSetup:
    rush_host: str
    schema: str
    month: str  # YYYY-MM, the release month
    days: list[str]  # its days with slots
    slots: int
    seats_per_slot: int
    seats: int
    browse_hosts: list[str]
    browse_months: list[str]


def release_month(today: dt.date) -> dt.date:
    """The month after `today`'s: the one released in a rush (its first day is always a few days ahead)."""
    return (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def seats_per_slot(target_seats: int, slots: int) -> int:
    """Seats per slot so the month holds at least `target_seats` (one at least)."""
    return max(1, math.ceil(target_seats / slots)) if slots else 0


def rush_setup(cities: Cities, *, target_seats: int, browse_cities: int) -> RushSetup:
    """The rush city with its release month of slots (`target_seats` seats over the month's slots, spread evenly,
    nothing taken) and `browse_cities` other cities with their booking window of slots."""
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.booking.calendar.availability import availability_months_changed
    from apps.booking.calendar.hours import TOKYO
    from apps.booking.calendar.services import slots_sync
    from apps.booking.models import Purpose, Slot

    today = timezone.now().astimezone(TOKYO).date()
    month = release_month(today)
    after = (month + dt.timedelta(days=32)).replace(day=1)
    log(f"nginx: the rush city and {browse_cities} browsing cities", SECTION)
    rush_slug, _ = cities.create("clone")
    browse = [cities.create("clone")[0] for _ in range(browse_cities)]
    for slug in [rush_slug, *browse]:
        with schema_context(slug):
            slots_sync(today=today)
    with schema_context(rush_slug):
        group = Purpose.objects.get(code=APPLICATION).counter_group
        first = dt.datetime.combine(max(month, today + dt.timedelta(days=2)), dt.time(), TOKYO)
        released = Slot.objects.filter(
            counter_group=group,
            start__gte=first,
            start__lt=dt.datetime.combine(after, dt.time(), TOKYO),
            blocked=False,
        )
        slots = released.count()
        per_slot = seats_per_slot(target_seats, slots)
        released.update(seats=per_slot, staff_seats=0, taken=0)
        days = sorted(
            {start.astimezone(TOKYO).date().isoformat() for start in released.values_list("start", flat=True)}
        )
        availability_months_changed(counter_group_id=group.pk, first=today, last=after)
    connection.set_schema_to_public()  # type: ignore[attr-defined]  # django-tenants' backend
    return RushSetup(
        rush_host=rush_slug + CITY_HOST_SUFFIX,
        schema=rush_slug,
        month=f"{month:%Y-%m}",
        days=days,
        slots=slots,
        seats_per_slot=per_slot,
        seats=slots * per_slot,
        browse_hosts=[slug + CITY_HOST_SUFFIX for slug in browse],
        browse_months=[f"{today:%Y-%m}", f"{month:%Y-%m}"],
    )


@dataclass
class Overbooking:
    slots: int = 0
    seats: int = 0
    taken: int = 0
    booked: int = 0
    held: int = 0
    over: int = 0  # seats over capacity: taken > seats, booked > seats, booked + held > seats
    mismatched: int = 0  # slots where taken ≠ booked + held

    @property
    def overbooked(self) -> int:
        return self.over + self.mismatched


def overbooking_check(schema: str, days: Sequence[str]) -> Overbooking:
    """bench/wrk_contested.py's CHECK_SQL over every day of the release month."""
    from django.db import connection

    found = Overbooking()
    with connection.cursor() as cursor:
        for day in days:
            cursor.execute(CHECK_SQL.format(schema=f'"{schema}"'), [APPLICATION, day, day])
            for _, seats, taken, booked, held in cursor.fetchall():
                found.slots += 1
                found.seats += seats
                found.taken += taken
                found.booked += booked
                found.held += held
                found.over += max(0, taken - seats) + max(0, booked - seats) + max(0, booked + held - seats)
                found.mismatched += taken != booked + held
    return found


# --- CPU per component (where the time goes) -----------------------------------------------------------------------

COMPONENTS = ("nginx", "gunicorn", "postgres", "wrk", "other")


def _processes() -> dict[int, tuple[int, str, float]]:
    """Every process: pid → (parent pid, name, CPU seconds user + system so far)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name, _, rest = text.partition(" (")[2].rpartition(")")
        fields = rest.split()
        # After "(name)": state, ppid, ...; utime, stime, cutime, cstime are the 12th to 15th fields. The children's
        # (cutime, cstime) hold what exited children used once reaped (a postmaster's backends, nginx's old workers).
        found[int(entry.name)] = (int(fields[1]), name, sum(int(v) for v in fields[11:15]) / tick)
    return found


def cpu_snapshot(roots: Mapping[str, Sequence[int]]) -> dict[str, dict[int, float]]:
    """CPU seconds of every process by component: the process trees under `roots` ({component: pids}), and
    `other` for the rest of the machine (other work competing for the CPUs). Without a root for `postgres` (a
    server the bench did not start), every process named postgres counts as postgres."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    owner: dict[int, str] = {}
    for component, pids in roots.items():
        stack = list(pids)
        while stack:
            pid = stack.pop()
            if pid in processes and pid not in owner:
                owner[pid] = component
                stack += children.get(pid, [])
    found: dict[str, dict[int, float]] = {name: {} for name in COMPONENTS}
    for pid, (_, name, seconds) in processes.items():
        component = owner.get(pid) or (
            "postgres" if name == "postgres" and "postgres" not in roots else "other"
        )
        found[component][pid] = seconds
    return found


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds each component used between two snapshots (a process new since `before` counts from 0; one gone
    by `after` is not counted)."""
    return {
        name: sum(
            seconds - before.get(name, {}).get(pid, 0.0) for pid, seconds in after.get(name, {}).items()
        )
        for name in COMPONENTS
    }


def machine_busy() -> float:
    """CPU-seconds the whole machine has been busy (every CPU, everything but idle and I/O wait), /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def postmaster_pid(box: Sandbox) -> int | None:
    """The bench's own PostgreSQL (embedded: the first line of postmaster.pid under its data directory)."""
    if not box.embedded:
        return None
    for path in box.data_dir.rglob("postmaster.pid"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(path.read_text().split()[0])
    return None


# --- the runs --------------------------------------------------------------------------------------------------------


@dataclass
class NginxRushResult:
    residents: int
    connections: int
    browsers: int
    workers: int
    threads: int
    setup: RushSetup | None = None
    skipped: str = ""
    ceiling: WrkResult = field(default_factory=WrkResult)
    trivial: list[WrkResult] = field(default_factory=list)  # through nginx, before and after the rush
    trivial_direct: WrkResult = field(default_factory=WrkResult)  # the same view on gunicorn, without nginx
    rush: WrkResult = field(default_factory=WrkResult)
    browse: WrkResult = field(default_factory=WrkResult)
    rush_seconds: float = 0.0  # wall time from wrk's start to every thread's last resident
    finished: bool = False  # every resident done before the duration cap
    limit: float = 0.0
    check: Overbooking = field(default_factory=Overbooking)
    booked_in_db: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    processes: dict[str, int] = field(default_factory=dict)  # per component, at the rush's end
    loads: list[float] = field(default_factory=list)
    nginx_version: str = ""
    app_errors: list[str] = field(default_factory=list)
    profiles: dict[str, Any] = field(
        default_factory=dict
    )  # page → bench.profiler.Profile, when a target is missed


def wrk_https(
    port: int,
    path: str,
    *,
    host: str,
    connections: int,
    seconds: float,
    script: Path | None = None,
    script_args: Sequence[str] = (),
    tls: bool = True,
) -> list[str]:
    """wrk_command over https (one connection per thread: the scripts' Lua state is per thread)."""
    command = wrk_command(
        port,
        path,
        host=host,
        threads=connections,
        connections=connections,
        seconds=seconds,
        cores=NO_CPUS,
        script=script,
        script_args=script_args,
    )
    if tls:
        url = command.index(f"http://127.0.0.1:{port}{path}")
        command[url] = f"https://127.0.0.1:{port}{path}"
    return command


def _baseline(
    name: str, port: int, path: str, host: str, connections: int, seconds: float, *, tls: bool = True
) -> WrkResult:
    def command(duration: float) -> list[str]:
        return wrk_https(
            port,
            path,
            host=host,
            connections=connections,
            seconds=duration,
            script=SCRIPTS_DIR / "browse.lua",
            tls=tls,
        )

    # Warm-up: the connections and TLS sessions, and every worker's first requests (imports, caches), which take
    # seconds each on a busy machine: rounds of wrk until one answers most of its requests within a second.
    for _ in range(WARM_UP_ROUNDS):
        warm = wrk_run(command(2), 2)
        if warm.requests > 2 * connections and _ms(warm, 95) < 1000:
            break
    result = wrk_run(command(seconds), seconds)
    log(f"nginx:   {name}: {result.rps:,.0f} requests/s, p99 {_p(result, 99)} ms {result.failed}", SECTION)
    return result


def _p(result: WrkResult, q: int) -> str:
    value = result.flows.get(f"p{q}_us")
    return f"{value / 1000:.1f}" if isinstance(value, int | float) else "–"


def _stop_wrk(process: subprocess.Popen[str]) -> WrkResult:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        stdout, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    result = parse_wrk(stdout)
    if result.requests == 0:
        result.failed = (stderr.strip() or stdout.strip() or f"exit {process.returncode}")[-300:]
    return result


def rush_run(
    port: int, setup: RushSetup, args: argparse.Namespace, markers: Path, roots: dict[str, list[int]]
) -> NginxRushResult:
    """The browsers start, then the residents; wrk stops the residents' threads after their share, and the
    browsers are stopped when the last resident is done (or at the cap)."""
    connections = min(args.nginx_connections, args.nginx_residents)
    result = NginxRushResult(
        residents=args.nginx_residents,
        connections=connections,
        browsers=args.nginx_browsers,
        workers=args.nginx_workers,
        threads=args.nginx_threads,
        setup=setup,
        limit=args.nginx_limit,
    )
    markers.mkdir(parents=True, exist_ok=True)
    browse_command = wrk_https(
        port,
        "/",
        host=setup.browse_hosts[0],
        connections=args.nginx_browsers,
        seconds=args.nginx_limit + 30,
        script=SCRIPTS_DIR / "browse.lua",
        script_args=[APPLICATION, ",".join(setup.browse_hosts), ",".join(setup.browse_months)],
    )
    rush_command = wrk_https(
        port,
        "/",
        # With the port: nginx passes it on (not 443), and the residents' Origin and Referer must name it.
        host=f"{setup.rush_host}:{port}",
        connections=connections,
        seconds=args.nginx_limit + 30,
        script=SCRIPTS_DIR / "rush.lua",
        script_args=[
            APPLICATION,
            setup.month,
            str(args.nginx_residents),
            str(connections),
            str(markers),
            "R",
        ],
    )
    log(
        f"nginx: {args.nginx_residents} residents ({connections} at once) after {setup.seats} seats of "
        f"{setup.month}, {args.nginx_browsers} browsing {len(setup.browse_hosts)} cities",
        SECTION,
    )
    browse = subprocess.Popen(browse_command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        roots = {**roots, "wrk": [browse.pid]}
        before, busy = cpu_snapshot(roots), machine_busy()
        started = time.monotonic()
        rush = subprocess.Popen(rush_command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        roots["wrk"].append(rush.pid)
        deadline = started + args.nginx_limit
        next_load = started
        while rush.poll() is None and time.monotonic() < deadline:
            if sum(1 for _ in markers.glob("done-*")) >= connections:
                result.finished = True
                break
            if time.monotonic() >= next_load:
                result.loads.append(os.getloadavg()[0])
                next_load += 5
            time.sleep(0.05)
        result.rush_seconds = time.monotonic() - started
        after = cpu_snapshot(roots)
        result.cpu = cpu_used(before, after)
        result.processes = {name: len(pids) for name, pids in after.items() if name != "other"}
        # `other`: the rest of the machine's busy time (/proc/stat), short-lived processes included (their /proc
        # entries are gone by the second snapshot, and a parent's cutime would count a child's whole life).
        ours = sum(v for k, v in result.cpu.items() if k != "other")
        result.cpu["other"] = max(0.0, machine_busy() - busy - ours)
        result.rush = _stop_wrk(rush)
    finally:
        result.browse = _stop_wrk(browse)
    log(
        f"nginx: rush {'done' if result.finished else 'stopped at the cap'} in {result.rush_seconds:.1f} s: "
        f"{result.rush.flows} {result.rush.failed}; browsing {result.browse.rps:,.0f} requests/s; CPU-seconds "
        f"{ {k: round(v) for k, v in result.cpu.items()} } in {result.processes} processes "
        f"{result.browse.failed}",
        SECTION,
    )
    return result


def nginx_params(prefix: Path, upstream: int) -> NginxParams:
    """The bench's nginx: free ports of 127.0.0.1, every host of the Domain table, the vendor's domain as the
    bench sets it (`localhost`: its cities are `<slug>.localhost`, under the one wildcard server)."""
    from tenants.models import Domain

    prefix.mkdir(parents=True, exist_ok=True)
    return NginxParams(
        prefix=prefix,
        listen_port=free_port(),
        http_port=free_port(),
        ceiling_port=free_port(),
        upstream_port=upstream,
        tls_dir=prefix / "tls",
        hosts=tuple(Domain.objects.order_by("domain").values_list("domain", flat=True)),
        vendor_domain=PUBLIC_HOST,
    )


def _vendor_site(params: NginxParams) -> Any:
    from madoguchi import nginx

    return nginx.plan(params.hosts, params.vendor_domain).sites[0]


def bench_nginx(box: Sandbox, cities: Cities, args: argparse.Namespace) -> NginxRushResult:
    from django.db import connection

    binary = nginx_ensure()
    empty = NginxRushResult(
        args.nginx_residents,
        args.nginx_connections,
        args.nginx_browsers,
        args.nginx_workers,
        args.nginx_threads,
    )
    if binary is None:
        log(f"NOTICE: {NGINX_MISSING}", SECTION)
        empty.skipped = NGINX_MISSING
        return empty
    if wrk_path() is None:
        log(f"NOTICE: {WRK_MISSING}", SECTION)
        empty.skipped = WRK_MISSING
        return empty
    setup = rush_setup(cities, target_seats=args.nginx_seats, browse_cities=args.nginx_cities)
    connection.close()
    gunicorn_stop(box)  # a server an earlier part left running
    # The app sees nginx as its peer and takes the client's address from X-Forwarded-For, as in production.
    os.environ["MADOGUCHI_TRUSTED_PROXIES"] = "127.0.0.1/32"
    try:
        upstream = gunicorn_start(
            box, args.nginx_workers, threads=args.nginx_threads, settings_module="bench.settings_bench"
        )
    finally:
        os.environ.pop("MADOGUCHI_TRUSTED_PROXIES", None)
    params = nginx_params(box.data_dir / "nginx", upstream)
    site = _vendor_site(params)
    certificate_write(
        site.certificate(params.tls_dir), site.key(params.tls_dir), [PUBLIC_HOST, f"*{CITY_HOST_SUFFIX}"]
    )
    connections = min(args.nginx_connections, args.nginx_residents)
    seconds = args.nginx_baseline_seconds
    try:
        with nginx_running(binary, params) as server:
            assert box.gunicorn is not None
            roots = {"nginx": [server.pid], "gunicorn": [box.gunicorn.pid]}
            if (postgres := postmaster_pid(box)) is not None:
                roots["postgres"] = [postgres]
            log(f"nginx: https on 127.0.0.1:{params.listen_port}, upstream gunicorn on {upstream}", SECTION)
            ceiling = _baseline(
                "ceiling: nginx `return 200`", params.ceiling_port, "/", "localhost", connections, seconds
            )
            trivial_direct = _baseline(
                "trivial view on gunicorn (no nginx)",
                upstream,
                "/bench/trivial/",
                setup.rush_host,
                connections,
                seconds,
                tls=False,
            )
            trivial = [
                _baseline(
                    "trivial view through nginx",
                    params.listen_port,
                    "/bench/trivial/",
                    setup.rush_host,
                    connections,
                    seconds,
                )
            ]
            result = rush_run(params.listen_port, setup, args, box.data_dir / "rush-markers", roots)
            trivial.append(
                _baseline(
                    "trivial view through nginx (after)",
                    params.listen_port,
                    "/bench/trivial/",
                    setup.rush_host,
                    connections,
                    seconds,
                )
            )
            result.nginx_version = _nginx_version(binary)
    finally:
        gunicorn_stop(box, kill_after=15)
    result.ceiling, result.trivial, result.trivial_direct = ceiling, trivial, trivial_direct
    result.check = overbooking_check(setup.schema, setup.days)
    result.booked_in_db = result.check.booked
    connection.close()
    if not all(met for _, _, met in targets(result)) and args.nginx_profile_requests > 0:
        result.profiles = _profiles(setup, args.nginx_profile_requests)
    log(
        f"nginx: overbookings {result.check.overbooked} (seats over {result.check.over}, mismatched "
        f"{result.check.mismatched}); booked {result.check.booked}/{result.check.seats}",
        SECTION,
    )
    return result


def _profiles(setup: RushSetup, requests: int) -> dict[str, Any]:
    """cProfile of the residents' GET pages in this process (bench/profiler.py), after the rush: where the app's
    time goes. The month is sold out by then and its calendar cached, where during the rush each hold and booking
    made the next calendar rebuild it."""
    from bench.profiler import profile_page

    pages = {
        "city top page `/`": "/",
        f"month calendar `/book/{APPLICATION}/?month={setup.month}`": f"/book/{APPLICATION}/?month={setup.month}",
        "day page": f"/book/{APPLICATION}/{setup.days[0]}/" if setup.days else "",
    }
    profiles: dict[str, Any] = {}
    for name, path in pages.items():
        if not path:
            continue
        log(f"nginx: profile {name} ({requests} requests)", SECTION)
        try:
            profiles[name] = profile_page(setup.rush_host, path, requests)
        except Exception as error:  # a failed profile must not cost the section
            log(f"nginx:   profile failed: {type(error).__name__}: {error}", SECTION)
    return profiles


def _nginx_version(binary: str) -> str:
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10, check=False)
    return (done.stderr or done.stdout).strip().removeprefix("nginx version: ")


# --- figures and the report's section -------------------------------------------------------------------------------


def unexpected_errors(result: WrkResult, expected: int = 0) -> int:
    """Errors beside the expected "just taken" answers: non-2xx/3xx minus `expected`, plus socket errors."""
    return max(0, result.non_2xx_3xx - expected) + sum(result.socket_errors.values())


def _ms(result: WrkResult, q: int) -> float:
    value = result.flows.get(f"p{q}_us")
    return value / 1000 if isinstance(value, int | float) else float("nan")


def _latency(result: WrkResult) -> str:
    return f"{_ms(result, 50):.1f} / {_ms(result, 95):.1f} / {_ms(result, 99):.1f}"


def _socket(result: WrkResult) -> str:
    errors = {k: v for k, v in result.socket_errors.items() if v}
    return ", ".join(f"{k} {v}" for k, v in errors.items()) or "0"


def _fails(result: WrkResult) -> str:
    found = {k.removeprefix("fail."): v for k, v in result.flows.items() if k.startswith("fail.")}
    return ", ".join(f"{k} {v}" for k, v in sorted(found.items())) or "none"


def targets(result: NginxRushResult) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for issue 14, item 5's targets on this machine."""
    rush, browse = result.rush, result.browse
    taken = int(rush.flows.get("hold_taken", 0))
    errors = unexpected_errors(rush, taken) + unexpected_errors(browse)
    p99 = max(_ms(rush, 99), _ms(browse, 99))
    return [
        (
            f"{result.residents:,} residents within {TARGET_SECONDS:.0f} s",
            f"{result.rush_seconds:.1f} s" + ("" if result.finished else " (stopped at the cap, unfinished)"),
            result.finished and result.rush_seconds <= TARGET_SECONDS,
        ),
        ("0 errors", str(errors), errors == 0),
        ("0 overbookings", str(result.check.overbooked), result.check.overbooked == 0),
        ("p99 < 1 s (residents and browsing)", f"{p99:,.0f} ms", p99 < TARGET_P99_MS),
    ]


def capacity(result: NginxRushResult) -> dict[str, float]:
    """The rush's CPU cost per answered request (ms, nginx + gunicorn + PostgreSQL, not wrk), what the machine's
    CPUs could answer at that cost, and the residents per minute that makes at the rush's requests per resident."""
    served = result.rush.requests + result.browse.requests
    residents = int(result.rush.flows.get("residents", 0))
    server_cpu = sum(result.cpu.get(name, 0.0) for name in ("nginx", "gunicorn", "postgres"))
    if not served or not server_cpu or not residents:
        return {}
    ms = 1000 * server_cpu / served
    max_rps = cpu_count() * 1000 / ms
    per_resident = result.rush.requests / residents
    return {
        "ms_per_request": ms,
        "gunicorn_ms": 1000 * result.cpu.get("gunicorn", 0.0) / served,
        "postgres_ms": 1000 * result.cpu.get("postgres", 0.0) / served,
        "nginx_ms": 1000 * result.cpu.get("nginx", 0.0) / served,
        "max_rps": max_rps,
        "per_resident": per_resident,
        "residents_per_minute": 60 * max_rps / per_resident,
    }


def bound(result: NginxRushResult) -> str:
    """What bounds the rush: the CPU each component used while it ran, the cost per request and the capacity it
    gives, the queue the closed loop builds (Little's law), and the baselines of the same run."""
    wall = result.rush_seconds
    cpus = cpu_count()
    used = sum(result.cpu.values())
    shares = sorted(((v, k) for k, v in result.cpu.items() if v > 0), reverse=True)
    names = {"other": "other work on the machine"}
    parts = [
        f"the machine's CPUs were {min(1.0, used / (cpus * wall)):.0%} busy during the rush ({used:,.0f} CPU-seconds of "
        f"{cpus * wall:,.0f}: "
        + ", ".join(
            f"{names.get(name, name)}"
            + (f" ({result.processes[name]} processes)" if result.processes.get(name) else "")
            + f" {seconds / used:.0%}"
            for seconds, name in shares
        )
        + ")"
        if wall and used
        else "no CPU figures"
    ]
    if cap := capacity(result):
        parts.append(
            f"each answered request cost {cap['ms_per_request']:.1f} ms of CPU (gunicorn {cap['gunicorn_ms']:.1f}, "
            f"PostgreSQL {cap['postgres_ms']:.1f}, nginx {cap['nginx_ms']:.1f}), so {cpus} CPUs serve at most "
            f"~{cap['max_rps']:,.0f} requests/s at this mix, ~{cap['residents_per_minute']:,.0f} residents a minute "
            f"at {cap['per_resident']:.1f} requests each, with nothing else running"
        )
    answered = result.rush.rps + result.browse.rps
    if answered:
        queue = result.connections + result.browsers
        parts.append(
            f"{queue} connections in a closed loop at {answered:,.0f} requests/s wait {1000 * queue / answered:,.0f} "
            "ms per request on average (Little's law): the latency is the queue of requests ahead on the CPUs, so "
            "fewer residents at once or more CPUs, not a faster nginx, move the p99"
        )
    trivial = max((t.rps for t in result.trivial), default=0.0)
    if trivial:
        parts.append(
            f"the rush's {answered:,.0f} requests/s are {ratio(answered, trivial)} the trivial view's "
            f"{trivial:,.0f}/s through the same nginx"
        )
    if result.ceiling.rps:
        parts.append(
            f"nginx alone answers {result.ceiling.rps:,.0f}/s over the same TLS, so neither wrk nor nginx is the bound"
        )
    return "; ".join(parts) + "."


def nginx_section(result: NginxRushResult, args: argparse.Namespace, header: str = "") -> list[str]:
    out = [HEADING, "", *([header, ""] if header else [])]
    if result.skipped or result.setup is None:
        return [*out, f"Not measured: {result.skipped or 'no setup'}.", ""]
    setup = result.setup
    rush, browse = result.rush, result.browse
    taken = int(rush.flows.get("hold_taken", 0))
    flows = int(rush.flows.get("residents", 0))
    trivial_before = result.trivial[0] if result.trivial else WrkResult()
    trivial_after = result.trivial[-1] if len(result.trivial) > 1 else WrkResult()
    trivial_rps = max(trivial_before.rps, trivial_after.rps)
    busiest = max(result.loads, default=0.0)
    out += [
        f"{result.residents:,} residents of one city (`{setup.rush_host}`) after its release month {setup.month} "
        f"({setup.slots} slots on {len(setup.days)} days × {setup.seats_per_slot} seats = **{setup.seats:,} seats**), "
        f"while {len(setup.browse_hosts)} other cities are browsed, through a real nginx ({result.nginx_version}) "
        "over https. wrk "
        f"{wrk_version()}, one connection per thread (the Lua state is per thread): **{result.connections} "
        f"residents at once** (`bench/wrk/rush.lua`: each connection one resident after another, a new cookie jar "
        "each: top page → month calendar → a day the calendar shows bookable → hold (POST) on a random free time, "
        '"just taken" (409) → the next free time of the page, none left → the calendar again, three days and eight '
        f"holds at most (the app allows a session ten holds in ten minutes) → hold form → confirmation (POST)), and **{result.browsers} browsing connections** "
        f"(`bench/wrk/browse.lua`: the {len(setup.browse_hosts)} cities' top pages and month calendars in turn, the Host header rotating "
        "per request) until the last resident is done. wrk keeps each connection alive; no think time (a closed "
        "loop: each connection sends its next request when the answer comes).",
        "",
        *table(
            ["setting", "value"],
            [
                [
                    "nginx",
                    f"{result.nginx_version}, production's config: the server blocks of `manage.py nginx_sites` "
                    "(`madoguchi.nginx.render` on the Domain table: one wildcard server for `localhost` and "
                    "`*.localhost`, TLS 1.2/1.3, HSTS, proxy headers, HTTP/1.1 keep-alive to the upstream "
                    "(`keepalive 32`), masked access log) and its standalone main config (`worker_processes 2`), "
                    "on free ports of 127.0.0.1 with a self-signed EC certificate the bench generates, no OCSP "
                    "stapling; plus a bench-only server answering `return 200` (the ceiling)",
                ],
                [
                    "rate limits",
                    "nginx's per-address `limit_req` zones (production: pages 50 r/s burst 200, logins 30 r/m) "
                    "raised to 100,000 r/s for the bench, since every client is 127.0.0.1, as "
                    "`MADOGUCHI_BENCH_LIMITS=true` raises the app's own; both still consulted on every request",
                ],
                [
                    "app",
                    f"gunicorn with `ops/gunicorn.conf.py` (gthread) `-w {result.workers} --threads "
                    f"{result.threads} --max-requests 0`, `bench.settings_bench`, `MADOGUCHI_TRUSTED_PROXIES="
                    "127.0.0.1/32` (the client address from X-Forwarded-For), cache in the database (no Redis), "
                    "the bench's own PostgreSQL",
                ],
                [
                    "baselines",
                    f"the same wrk settings (`-t{result.connections} -c{result.connections} "
                    f"-d{args.nginx_baseline_seconds}s`) after a warm-up (2 s rounds of wrk until one answers within a second): nginx's own `return 200` on a second "
                    "TLS port (the generator's ceiling), the trivial view `/bench/trivial/` (every middleware) on "
                    "gunicorn directly and through nginx before and after the rush",
                ],
                ["machine", f"{cpu_count()} CPUs, nothing pinned; load average (1 min) up to {busiest:.1f}"],
            ],
        ),
        "",
        load_text(SECTION),
        "",
        "| | requests/s | p50 / p95 / p99 ms | errors | notes |",
        "|---|---|---|---|---|",
        f"| **rush: residents** | {rush.rps:,.0f} | {_latency(rush)} | "
        f"{unexpected_errors(rush, taken)} (socket: {_socket(rush)}) | {rush.requests:,} requests, "
        f'{taken:,} expected 409 "just taken"; failed steps: {_fails(rush)} |',
        f"| **rush: {len(setup.browse_hosts)} cities browsing** | {browse.rps:,.0f} | {_latency(browse)} | "
        f"{unexpected_errors(browse)} (socket: {_socket(browse)}) | {browse.requests:,} requests |",
        f"| trivial view through nginx, before | {trivial_before.rps:,.0f} | {_latency(trivial_before)} | "
        f"{unexpected_errors(trivial_before)} | the baseline |",
        f"| trivial view through nginx, after | {trivial_after.rps:,.0f} | {_latency(trivial_after)} | "
        f"{unexpected_errors(trivial_after)} | |",
        f"| trivial view on gunicorn, no nginx | {result.trivial_direct.rps:,.0f} | "
        f"{_latency(result.trivial_direct)} | {unexpected_errors(result.trivial_direct)} | nginx + TLS cost: "
        f"{ratio(trivial_rps, result.trivial_direct.rps)} |",
        f"| ceiling: nginx `return 200` | {result.ceiling.rps:,.0f} | {_latency(result.ceiling)} | "
        f"{unexpected_errors(result.ceiling)} | wrk + TLS + nginx without the app |",
        "",
        f"Residents: **{flows:,} finished in {result.rush_seconds:.1f} s** "
        f"({'all of them' if result.finished else f'**stopped at the {result.limit:.0f} s cap**'}): "
        f"{flows / result.rush_seconds if result.rush_seconds else 0:,.1f} residents/s, booked "
        f"{int(rush.flows.get('booked', 0)):,}, sold out (the calendar showed no bookable day) "
        f"{int(rush.flows.get('soldout', 0)):,}, gave up (three days or eight holds without a hold, or a failed step) "
        f"{int(rush.flows.get('gave_up', 0)):,}; holds {int(rush.flows.get('holds', 0)):,} "
        f'({int(rush.flows.get("held", 0)):,} held, {taken:,} "just taken"), confirmations '
        f"{int(rush.flows.get('confirms', 0)):,}. Whole traffic "
        f"{rush.rps + browse.rps:,.0f} requests/s: {ratio(rush.rps + browse.rps, trivial_rps)} the trivial view "
        "through the same nginx; the residents' p99 is "
        f"{ratio(_ms(rush, 99), _ms(trivial_before, 99))} the trivial view's at the same concurrency. wrk's "
        "latencies are per request, from its send to the answer (no per-step clock in wrk's Lua), and a closed "
        "loop hides the queueing a real open arrival would add (coordinated omission).",
        "",
        f"**Overbookings: {result.check.overbooked}** (SQL after the run over the {result.check.slots} slots of "
        f"{setup.month}: seats over capacity {result.check.over}, slots where taken ≠ booked + held "
        f"{result.check.mismatched}); booked in the database {result.check.booked:,} of {result.check.seats:,} "
        f"seats, {result.check.held} held (holds whose resident was stopped mid-flow). Exceptions the app logged: "
        + ("; ".join(f"`{e}`" for e in result.app_errors) if result.app_errors else "none")
        + ".",
        "",
        "Targets (issue 14, item 5, on this machine):",
        "",
        *table(
            ["target", "measured", "met?"],
            [[name, value, "yes" if met else "**no**"] for name, value, met in targets(result)],
        ),
        "",
    ]
    if not all(met for _, _, met in targets(result)):
        out += [f"What bounds it: {bound(result)}", ""]
        if result.profiles:
            from bench.wrk_report import profile_excerpt

            out += [
                "Where the app's time goes (cProfile of the residents' GET pages after the rush, in the bench's "
                "process through the test client, warm; `make profile PAGE=...` prints more):",
                "",
            ]
            for name, profile in result.profiles.items():
                out += profile_excerpt(name, profile, limit=6)
    else:
        out += [f"Where the time went: {bound(result)}", ""]
    return out
