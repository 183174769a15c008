"""`make prod-local` (ops/prod_local.py): the whole stack with production settings, driven over https.

nginx → gunicorn → PgBouncer → PostgreSQL, with a worker and beat, on ports of its own (18400-18499) and a database
and state directory of its own. A resident books through the pages over TLS (the certificate checked against the
stack's own authority, with the host's SNI); the app sees the client's address, not nginx's; http redirects to https
with HSTS; and after the stop nothing is left running.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "madoguchi.localhost"
CITY_HOST = f"ageo.{DOMAIN}"
RESIDENT_HOST = "ageo-yoyaku.localhost"
CLIENT = "127.0.0.7"  # the client's own loopback address; nginx reaches gunicorn from 127.0.0.1
START_TIMEOUT = 300


def _prod_local() -> ModuleType:
    spec = importlib.util.spec_from_file_location("prod_local", ROOT / "ops" / "prod_local.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("prod_local", module)  # its dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def _free_ports(count: int) -> list[int]:
    ports = []
    for port in range(18400, 18500):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == count:
            return ports
    pytest.skip("no free ports left in 18400-18499")


class Browser:
    """One client over https to 127.0.0.1 with a host's SNI and Host, from a chosen source address, with cookies."""

    def __init__(self, port: int, host: str, ca: Path, source: str = "127.0.0.1") -> None:
        self.port, self.host, self.source = port, host, source
        self.context = ssl.create_default_context(cafile=str(ca))
        self.cookies: dict[str, str] = {}

    def _connect(self) -> http.client.HTTPConnection:
        context, source, port = self.context, self.source, self.port

        class Connection(http.client.HTTPSConnection):
            def connect(self) -> None:
                raw = socket.create_connection(("127.0.0.1", port), 15, (source, 0))
                self.sock = context.wrap_socket(raw, server_hostname=self.host)

        return Connection(self.host, port, timeout=15, context=context)

    def send(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, http.client.HTTPMessage, str]:
        connection = self._connect()
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            origin = f"https://{self.host}:{self.port}"
            sent |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": origin,
                "Referer": origin + path,
            }
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode("utf-8", errors="replace")
        finally:
            connection.close()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return response.status, response.headers, text


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} in the page"
    return match.group(1)


def _book(browser: Browser) -> str:
    """The resident's flow: calendar → day → hold → form → confirmation; the booking number."""
    status, _headers, page = browser.send("GET", "/book/application/")
    assert status == 200, page[:500]
    days = re.findall(r'href="/book/application/(\d{4}-\d{2}-\d{2})/"', page)
    later = re.search(r'href="(/book/application/\?month=\d{4}-\d{2})"', page)
    if not days and later:  # late in the month: the open days are in the next one
        status, _headers, page = browser.send("GET", later.group(1).replace("&amp;", "&"))
        days = re.findall(r'href="/book/application/(\d{4}-\d{2}-\d{2})/"', page)
    assert days, "no open day in the demo city's calendar"
    day_path = f"/book/application/{days[0]}/"
    status, _headers, day_page = browser.send("GET", day_path)
    assert status == 200
    free = re.findall(r'<input type="radio" name="slot" id="slot-\d+" value="(\d+)"(?! disabled)', day_page)
    assert free, "no free time on the day page"
    form = {"csrfmiddlewaretoken": _hidden(day_page, "csrfmiddlewaretoken"), "slot": free[0], "persons": "1"}
    status, headers, body = browser.send("POST", day_path, form)
    assert status == 302, body[:500]
    assert "/book/hold/" in headers["Location"]
    form_path = urlsplit(headers["Location"]).path
    status, _headers, form_page = browser.send("GET", form_path)
    assert status == 200
    details = {
        "csrfmiddlewaretoken": _hidden(form_page, "csrfmiddlewaretoken"),
        "p1-name": "本番 花子",
        "p1-kana": "",
        "p1-birth_date_0": "western",
        "p1-birth_date_1": "1980",
        "p1-birth_date_2": "4",
        "p1-birth_date_3": "1",
        "email": "prod-local@example.jp",
        "phone": "090-1234-5678",
        "submission_key": _hidden(form_page, "submission_key"),
    }
    status, headers, body = browser.send("POST", form_path, details)
    assert status == 302, body[:800]
    assert "/book/done/" in headers["Location"]
    return headers["Location"].rstrip("/").rsplit("/", 1)[-1]


def _manage_shell(prod_local: Path, env: dict[str, str], script: str) -> str:
    result = subprocess.run(
        [sys.executable, str(prod_local), "manage", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def stack_env() -> Iterator[dict[str, str]]:
    module = _prod_local()
    missing = module.ensure_packages()
    if missing:
        pytest.skip(
            f"{', '.join(missing)} missing and not installable here (not root or no apt): make ops-deps"
        )
    https, http_port, app, pgbouncer = _free_ports(4)
    state = ROOT / ".data" / f"prod-local-test-{os.getpid()}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MADOGUCHI_", "DJANGO_", "PROD_LOCAL_", "GUNICORN_")) and key != "REDIS_URL"
    }
    env |= {
        "MADOGUCHI_DATA_DIR": str(state),
        "MADOGUCHI_DOMAIN": DOMAIN,
        # Only the client's own address may reach the vendor console: a staff-network decision the app can only get
        # right when it reads the client's address from nginx's X-Forwarded-For, not its peer (nginx, 127.0.0.1).
        "MADOGUCHI_VENDOR_NETWORKS": f"{CLIENT}/32",
        "PROD_LOCAL_HTTPS_PORT": str(https),
        "PROD_LOCAL_HTTP_PORT": str(http_port),
        "PROD_LOCAL_APP_PORT": str(app),
        "PROD_LOCAL_PGBOUNCER_PORT": str(pgbouncer),
        "PROD_LOCAL_RESIDENT_HOST": RESIDENT_HOST,
        "GUNICORN_WORKERS": "2",
    }
    database = ""
    if os.environ.get("DATABASE_URL"):
        parts = urlsplit(os.environ["DATABASE_URL"])
        database = f"test_{parts.path.lstrip('/') or 'madoguchi'}_prodlocal"
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{database}"))
    try:
        yield env
    finally:
        subprocess.run(
            [sys.executable, str(ROOT / "ops" / "prod_local.py"), "stop"], env=env, timeout=120, check=False
        )
        if database:
            _drop_database(os.environ["DATABASE_URL"], database)
        shutil.rmtree(state, ignore_errors=True)


def _drop_database(url: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database],
        )
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database)))


def _running(pids: dict[str, int]) -> list[str]:
    alive = []
    for name, pid in pids.items():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            alive.append(f"{name} ({pid})")
    return alive


def _processes_of(state: Path) -> list[str]:
    """Processes (not zombies) whose environment names this stack's state directory."""
    marker = f"MADOGUCHI_DATA_DIR={state}\0".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if (
                marker in (proc / "environ").read_bytes()
                and (proc / "stat").read_text().split(") ", 1)[1][0] != "Z"
            ):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except (OSError, IndexError):
            continue
    return found


def test_a_resident_books_over_https_and_the_app_sees_the_clients_address(stack_env: dict[str, str]) -> None:
    prod_local = ROOT / "ops" / "prod_local.py"
    started = subprocess.run(
        [sys.executable, str(prod_local), "start"],
        cwd=ROOT,
        env=stack_env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    state = Path(stack_env["MADOGUCHI_DATA_DIR"])
    if started.returncode != 0:
        logs = "\n".join(
            f"--- {log.name}\n{log.read_text()[-1500:]}"
            for log in [*(state / "logs").glob("*.log"), state / "pgbouncer" / "pgbouncer.log"]
            if log.exists()
        )
        pytest.fail(f"prod-local did not start:\n{started.stdout}\n{started.stderr}\n{logs}")
    stack: dict[str, Any] = json.loads((state / "stack.json").read_text())
    port = int(stack["https_port"])
    ca = state / "tls" / "ca" / "ca.crt"
    assert f"https://{CITY_HOST}:{port}/" in started.stdout

    # A booking through the resident pages, on the city's own host (its own certificate) over TLS.
    resident = Browser(port, RESIDENT_HOST, ca, source=CLIENT)
    code = _book(resident)
    found = _manage_shell(
        prod_local,
        stack_env,
        "from django_tenants.utils import schema_context\n"
        "from apps.booking.models import Reservation\n"
        f"with schema_context('ageo'): print(Reservation.objects.filter(code={code!r}).count())",
    )
    assert found == "1"

    # The address the app saw is the client's. The vendor console admits only 127.0.0.7: from there it answers,
    # from 127.0.0.1 (nginx's own address, and gunicorn's peer for every request) it refuses, and a client cannot
    # name another address in X-Forwarded-For (nginx replaces it).
    console_ok = Browser(port, DOMAIN, ca, source=CLIENT).send("GET", "/accounts/login/")
    assert console_ok[0] == 200
    refused = Browser(port, DOMAIN, ca).send("GET", "/accounts/login/", headers={"X-Forwarded-For": CLIENT})
    assert refused[0] == 403
    assert "127.0.0.1" in refused[2]
    # A failed staff login from 127.0.0.7 on the city's host: the audit log records 127.0.0.7.
    staff = Browser(port, CITY_HOST, ca, source=CLIENT)
    status, _headers, login_page = staff.send("GET", "/accounts/login/")
    assert status == 200
    staff.send(
        "POST",
        "/accounts/login/",
        {
            "csrfmiddlewaretoken": _hidden(login_page, "csrfmiddlewaretoken"),
            "login": "nobody",
            "password": "x" * 12,
        },
    )
    address = _manage_shell(
        prod_local,
        stack_env,
        "from django_tenants.utils import schema_context\n"
        "from apps.security.audit_models import AuditEvent\n"
        "with schema_context('ageo'): print(AuditEvent.objects.filter(action='auth.login_failed')"
        ".order_by('-sequence').values_list('address', flat=True).first())",
    )
    assert address == CLIENT
    peers = {
        line.split(" ", 1)[0]
        for line in (state / "logs" / "gunicorn.log").read_text().splitlines()
        if '"POST /accounts/login/' in line
    }
    assert peers == {"127.0.0.1"}  # gunicorn's peer was nginx

    # HSTS on https (includeSubDomains on the vendor's wildcard only), and plain http redirected to https.
    _status, city_headers, _body = Browser(port, CITY_HOST, ca).send("GET", "/book/")
    assert city_headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    _status, own_headers, _body = Browser(port, RESIDENT_HOST, ca).send("GET", "/book/")
    assert own_headers["Strict-Transport-Security"] == "max-age=31536000"
    plain = http.client.HTTPConnection("127.0.0.1", int(stack["http_port"]), timeout=15)
    plain.request("GET", "/book/?lang=en", headers={"Host": CITY_HOST})
    redirect = plain.getresponse()
    plain.close()
    assert redirect.status == 301
    assert redirect.headers["Location"] == f"https://{CITY_HOST}:{port}/book/?lang=en"

    # Stopped: none of the processes it started is left, and its ports are closed.
    pids = {
        name: int(path.read_text().split()[0])
        for name, path in {
            "nginx": state / "nginx" / "nginx.pid",
            "pgbouncer": state / "pgbouncer" / "pgbouncer.pid",
            "gunicorn": state / "pids" / "gunicorn.pid",
            "worker": state / "pids" / "worker.pid",
            "beat": state / "pids" / "beat.pid",
        }.items()
    }
    stopped = subprocess.run(
        [sys.executable, str(prod_local), "stop"], cwd=ROOT, env=stack_env, timeout=120, check=False
    )
    assert stopped.returncode == 0
    assert _running(pids) == []
    assert _processes_of(state) == []  # their children too (gunicorn's and the worker's)
    for key in ("https_port", "http_port", "app_port", "pgbouncer_port"):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", int(stack[key]))) != 0, key
