"""The bench's nginx (part `nginx`, bench/nginx_rush.py): Debian's binary, production's config with the bench's ports,
upstream, certificate and raised rate limits, a ceiling server beside it, and the process in the foreground.

nginx is installed with `apt-get install nginx` as root when missing (otherwise the section says "nginx missing"),
started as a non-daemon process with its own prefix, config, pid and logs under the bench's data directory, on free
high ports of 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import CITY_HOST_SUFFIX, PUBLIC_HOST, free_port

NGINX_MISSING = "nginx missing (`apt-get install nginx` as root)"


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


def certificate_write(params: NginxParams) -> None:
    """The vendor site's certificate where nginx's config names it: self-signed (madoguchi.tls) for the bench's
    domain and its cities."""
    from madoguchi.tls import self_signed_certificate

    site = _vendor_site(params)
    self_signed_certificate(
        site.certificate(params.tls_dir), site.key(params.tls_dir), [PUBLIC_HOST, f"*{CITY_HOST_SUFFIX}"]
    )


def nginx_version(binary: str) -> str:
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10, check=False)
    return (done.stderr or done.stdout).strip().removeprefix("nginx version: ")
