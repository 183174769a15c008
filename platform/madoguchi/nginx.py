"""nginx server blocks generated from the Domain table (`manage.py nginx_sites`; ops/nginx/README.md).

Two kinds of TLS server:

- the vendor's domain and every host one label below it (`madoguchi.example`, `ageo.madoguchi.example`): one
  server with the wildcard certificate, HSTS with includeSubDomains (every name below the vendor's domain is ours
  and served over TLS). It is also the default server, so a request for an unknown host reaches the app, which
  answers it (as it answers a suspended city);
- every other host (a city's own resident host, e.g. `yoyaku.city.ageo.lg.jp`): a server of its own with its own
  certificate, `<tls dir>/<host>.crt` and `.key`, since EV certificates cannot be wildcards; HSTS without
  includeSubDomains (the names below it are the city's, not ours).

The text comes from the templates in ops/nginx/templates/ (Django's template language: its `{{ }}` never clashes
with nginx's `$variables` and `{ }` blocks). Host names are checked before they are written into a config file.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.template import Context, Engine

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "ops" / "nginx" / "templates"
FILE_PREFIX = "madoguchi-"
HSTS_MAX_AGE = 31536000  # one year
# Per client address. Logins: a city hall's staff share one address at 8:30, so the burst is generous; the app's
# lockout (5 failures per account) is the real guard. Pages: residents behind one carrier address in a rush.
LOGIN_RATE = "30r/m"
LOGIN_BURST = 30
PAGE_RATE = "50r/s"
PAGE_BURST = 200
# Above the app's upload limit, so that a file somewhat over it still reaches the app and gets its Japanese message
# (docs/card-import.md), not nginx's bare 413; only a far larger body is cut off here.
UPLOAD_MARGIN_BYTES = 10 * 1024 * 1024

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")


class SiteError(ValueError):
    """A host or a setting that cannot be written into an nginx config."""


def valid_host(host: str) -> bool:
    """A DNS name nginx and a certificate can carry: lower-case labels, no IP address, nothing else."""
    if len(host) > 253 or not _HOST.match(host):
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


@dataclass(frozen=True)
class Site:
    """One TLS server block: its names and the certificate that covers them."""

    name: str  # the file name's stem and the certificate's: the vendor's domain or the host
    server_names: tuple[str, ...]
    wildcard: bool

    def certificate(self, tls_dir: Path) -> Path:
        return tls_dir / f"{self._stem}.crt"

    def key(self, tls_dir: Path) -> Path:
        return tls_dir / f"{self._stem}.key"

    @property
    def _stem(self) -> str:
        return f"wildcard.{self.name}" if self.wildcard else self.name

    @property
    def hsts(self) -> str:
        return f"max-age={HSTS_MAX_AGE}; includeSubDomains" if self.wildcard else f"max-age={HSTS_MAX_AGE}"


@dataclass(frozen=True)
class Plan:
    sites: tuple[Site, ...]
    skipped: tuple[
        str, ...
    ] = ()  # hosts left out (IP addresses, unreadable names), for the command to report


def under_wildcard(host: str, vendor_domain: str) -> bool:
    """True when `*.vendor_domain` (or the domain itself) covers the host: a wildcard covers one label only."""
    if host == vendor_domain:
        return True
    prefix, dot, rest = host.rpartition("." + vendor_domain)
    return bool(dot) and not rest and bool(prefix) and "." not in prefix


def plan(hosts: Iterable[str], vendor_domain: str) -> Plan:
    """The servers for these hosts (the Domain table's, in any order): the vendor's wildcard server first."""
    vendor_domain = vendor_domain.lower()
    if not valid_host(vendor_domain):
        raise SiteError(f"the vendor domain {vendor_domain!r} is not a DNS name")
    own: set[str] = set()
    skipped: list[str] = []
    for raw in hosts:
        host = raw.strip().lower()
        if not valid_host(host):
            skipped.append(raw)
        elif not under_wildcard(host, vendor_domain):
            own.add(host)
    vendor = Site(vendor_domain, (vendor_domain, f"*.{vendor_domain}"), wildcard=True)
    others = tuple(Site(host, (host,), wildcard=False) for host in sorted(own))
    return Plan(sites=(vendor, *others), skipped=tuple(sorted(skipped)))


@dataclass(frozen=True)
class Options:
    upstream: str = "127.0.0.1:8000"
    tls_dir: Path = Path("/etc/ssl/madoguchi")
    static_root: Path = ROOT / "frontend" / "staticfiles"
    listen_addresses: Sequence[str] = ("", "[::]")  # "": every IPv4 address
    https_port: int = 443
    http_port: int = 80
    access_log: str = "/var/log/nginx/madoguchi.log"
    upload_limit_bytes: int = 50 * 1024 * 1024
    stapling: bool = True  # OCSP stapling (needs the issuer's chain in the certificate file)
    files: dict[str, str] = field(default_factory=dict)

    def listens(self, port: int) -> list[str]:
        return [f"{address}:{port}" if address else str(port) for address in self.listen_addresses]


_UPSTREAM = re.compile(r"^(unix:/[\w./-]+|[\w.-]+:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5})$")
_SAFE_PATH = re.compile(r"^[\w./@+-]+$")


def _checked_path(path: Path | str, what: str) -> str:
    text = str(path)
    if not _SAFE_PATH.match(text):
        raise SiteError(f"{what} {text!r}: only letters, digits and ./_-@+ can be written into the config")
    return text


def render(site_plan: Plan, options: Options) -> dict[str, str]:
    """File name → text, for the output directory (every name starts with FILE_PREFIX)."""
    if not _UPSTREAM.match(options.upstream):
        raise SiteError(f"upstream {options.upstream!r} is not host:port or unix:/path")
    engine = Engine(dirs=[str(TEMPLATES)], autoescape=False)
    port_suffix = "" if options.https_port == 443 else f":{options.https_port}"
    tls_dir = Path(_checked_path(options.tls_dir, "the TLS directory"))
    upload_mib = math.ceil((options.upload_limit_bytes + UPLOAD_MARGIN_BYTES) / (1024 * 1024))
    common = {
        "upstream": options.upstream,
        "access_log": _checked_path(options.access_log, "the access log"),
        "login_rate": LOGIN_RATE,
        "page_rate": PAGE_RATE,
        "login_burst": LOGIN_BURST,
        "page_burst": PAGE_BURST,
        "http_listens": options.listens(options.http_port),
        "https_listens": options.listens(options.https_port),
        "https_port_suffix": port_suffix,
        # $host is lower-case and has no port: on a port other than 443 the app needs the port to build links.
        "host_header": f"$host{port_suffix}",
        "host_header_comment": "with the port, which is not 443"
        if port_suffix
        else "lower-case, without port",
        "static_root": _checked_path(options.static_root, "the static root").rstrip("/"),
        "upload_limit_bytes": options.upload_limit_bytes,
        "client_max_body_size": f"{upload_mib}m",
        "stapling": options.stapling,
    }
    proxy_name = f"{FILE_PREFIX}proxy.inc"
    files: dict[str, str] = {
        f"{FILE_PREFIX}00-http.conf": engine.get_template("http.conf").render(Context(common)),
        proxy_name: engine.get_template("proxy.conf").render(Context(common)),
    }
    server = engine.get_template("server.conf")
    for index, site in enumerate(site_plan.sites):
        if site.wildcard:
            comment = (
                f"The vendor's domain and its cities' hosts: the wildcard certificate for *.{site.name}. The "
                "default server: unknown hosts reach the app too, which answers them."
            )
            hsts_comment = f"Every name below {site.name} is ours and on TLS: includeSubDomains."
            file_name = f"{FILE_PREFIX}10-vendor.conf"
        else:
            comment = f"{site.name}: a city's own host, with its own (EV) certificate."
            hsts_comment = "The names below this host are the city's, not ours: no includeSubDomains."
            file_name = f"{FILE_PREFIX}20-{site.name}.conf"
        context = {
            **common,
            "comment": comment,
            "hsts_comment": hsts_comment,
            "server_names": site.server_names,
            "default": index == 0,
            "certificate": site.certificate(tls_dir),
            "key": site.key(tls_dir),
            "hsts": site.hsts,
            # nginx resolves a relative include against its prefix, so the generated files name each other fully.
            "proxy_include": "{out}/" + proxy_name,
        }
        files[file_name] = server.render(Context(context))
    return files


def write(files: dict[str, str], out: Path) -> list[Path]:
    """Write the files into `out` (each replaced whole), remove earlier generated files no longer wanted; the
    paths written."""
    out = out.resolve()
    _checked_path(out, "the output directory")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = out / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text.replace("{out}", str(out)), encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    for stale in out.glob(f"{FILE_PREFIX}*"):
        if stale.name not in files:
            stale.unlink()
    return written


MAIN_TEMPLATE = """# Generated by `manage.py nginx_sites --main`: a main config for an nginx outside /etc (make prod-local, tests).
# Production uses ops/nginx/nginx.conf, which includes the same generated directory.
{user}worker_processes 2;
pid {state}/nginx.pid;
error_log {state}/error.log crit;
events {{ worker_connections 1024; }}
http {{
    include {mime_types};
    default_type application/octet-stream;
    sendfile on;
    client_body_temp_path {state}/client_body;
    proxy_temp_path {state}/proxy;
    fastcgi_temp_path {state}/fastcgi;
    uwsgi_temp_path {state}/uwsgi;
    scgi_temp_path {state}/scgi;
    include {out}/{prefix}*.conf;
}}
"""


def main_config(
    *, out: Path, state: Path, user: str | None, mime_types: str = "/etc/nginx/mime.types"
) -> str:
    """A standalone main config: pid, logs and temporary files under `state`, the generated files from `out`."""
    return MAIN_TEMPLATE.format(
        user=f"user {user};\n" if user else "",
        state=_checked_path(state.resolve(), "the state directory"),
        out=_checked_path(out.resolve(), "the output directory"),
        mime_types=_checked_path(mime_types, "mime.types"),
        prefix=FILE_PREFIX,
    )
