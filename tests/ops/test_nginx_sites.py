"""nginx's server blocks generated from the Domain table: the text, and `nginx -t` on it where nginx is installed."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from madoguchi import nginx
from madoguchi.tls import issue_certificate, local_authority
from tenants.models import Domain, Municipality

VENDOR = "madoguchi.example"
RESIDENT_HOST = "yoyaku.city.ageo.lg.jp"


def _files(hosts: list[str], **options: object) -> dict[str, str]:
    return nginx.render(nginx.plan(hosts, VENDOR), nginx.Options(**options))  # type: ignore[arg-type]


def test_city_subdomains_share_the_wildcard_and_own_hosts_get_their_own_server() -> None:
    site_plan = nginx.plan(
        [
            VENDOR,
            "ageo.madoguchi.example",
            "OKEGAWA.madoguchi.example",
            RESIDENT_HOST,
            "a.b.madoguchi.example",
        ],
        VENDOR,
    )
    vendor, *others = site_plan.sites
    assert vendor.wildcard
    assert vendor.server_names == (VENDOR, f"*.{VENDOR}")
    assert vendor.certificate(Path("/tls")) == Path(f"/tls/wildcard.{VENDOR}.crt")
    # A wildcard covers one label: a deeper name needs a certificate of its own, like a city's own host.
    assert [site.name for site in others] == ["a.b.madoguchi.example", RESIDENT_HOST]
    assert all(not site.wildcard for site in others)
    assert others[1].certificate(Path("/tls")) == Path(f"/tls/{RESIDENT_HOST}.crt")


def test_hosts_nginx_cannot_carry_are_left_out_never_written() -> None:
    site_plan = nginx.plan(
        ["127.0.0.1", "::1", "evil.example; include /etc/shadow", "bad host", "-x.example", "ok.example"],
        VENDOR,
    )
    assert [site.name for site in site_plan.sites] == [VENDOR, "ok.example"]
    assert len(site_plan.skipped) == 5
    text = "".join(nginx.render(site_plan, nginx.Options()).values())
    assert "shadow" not in text
    assert "127.0.0.1;" not in text


def test_a_bad_vendor_domain_or_upstream_is_refused() -> None:
    with pytest.raises(nginx.SiteError):
        nginx.plan([], "madoguchi.example;")
    with pytest.raises(nginx.SiteError):
        _files([], upstream="127.0.0.1:8000; include x")
    with pytest.raises(nginx.SiteError):
        _files([], tls_dir=Path("/etc/ssl/my certs"))


def test_tls_hsts_and_the_redirect_to_https() -> None:
    files = _files([VENDOR, "ageo.madoguchi.example", RESIDENT_HOST])
    http = files["madoguchi-00-http.conf"]
    vendor = files["madoguchi-10-vendor.conf"]
    resident = files[f"madoguchi-20-{RESIDENT_HOST}.conf"]
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in http
    assert "return 301 https://$host$request_uri;" in http
    assert "listen 80 default_server;" in http
    assert "listen [::]:80 default_server;" in http
    # The vendor's server is the default: an unknown host (or one given by address) still reaches the app.
    assert "listen 443 ssl http2 default_server;" in vendor
    assert "listen 443 ssl http2;" in resident
    assert "default_server" not in resident
    assert 'set $madoguchi_hsts "max-age=31536000; includeSubDomains";' in vendor
    assert 'set $madoguchi_hsts "max-age=31536000";' in resident
    assert f"ssl_certificate     /etc/ssl/madoguchi/wildcard.{VENDOR}.crt;" in vendor
    assert f"ssl_certificate_key /etc/ssl/madoguchi/{RESIDENT_HOST}.key;" in resident
    assert f"server_name {RESIDENT_HOST};" in resident
    # nginx drops server-level add_header where a location has its own: HSTS is in each location that adds any.
    for server in (vendor, resident):
        static = server.split("location /static/")[1].split("}")[0]
        assert "add_header Strict-Transport-Security $madoguchi_hsts always;" in static
    proxy = files["madoguchi-proxy.inc"]
    assert "proxy_hide_header Strict-Transport-Security;" in proxy
    assert "add_header Strict-Transport-Security $madoguchi_hsts always;" in proxy


def test_on_a_high_port_the_redirect_and_the_host_header_keep_the_port() -> None:
    files = _files([VENDOR], https_port=18443, http_port=18080, listen_addresses=("127.0.0.1",))
    assert "return 301 https://$host:18443$request_uri;" in files["madoguchi-00-http.conf"]
    assert "listen 127.0.0.1:18080 default_server;" in files["madoguchi-00-http.conf"]
    assert "listen 127.0.0.1:18443 ssl http2 default_server;" in files["madoguchi-10-vendor.conf"]
    assert "proxy_set_header Host $host:18443;" in files["madoguchi-proxy.inc"]


def test_proxy_headers_the_app_trusts() -> None:
    proxy = _files([VENDOR])["madoguchi-proxy.inc"]
    assert "proxy_set_header Host $host;" in proxy
    # Replaced with the address nginx saw, never appended to: a client cannot choose its own address.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in proxy
    assert "$proxy_add_x_forwarded_for" not in proxy
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in proxy
    assert "proxy_set_header X-Request-ID $request_id;" in proxy
    assert "proxy_pass http://madoguchi_app;" in proxy
    assert "server 127.0.0.1:8000;" in _files([VENDOR])["madoguchi-00-http.conf"]


def test_body_limit_follows_the_apps_upload_limit_and_logins_have_the_stricter_rate() -> None:
    # Above the app's limit: a file a little too large still gets the app's Japanese message, not nginx's 413.
    files = _files([VENDOR], upload_limit_bytes=50 * 1024 * 1024)
    vendor = files["madoguchi-10-vendor.conf"]
    assert "client_max_body_size 60m;" in vendor
    assert (
        "client_max_body_size 20m;"
        in _files([VENDOR], upload_limit_bytes=10 * 1024 * 1024)["madoguchi-10-vendor.conf"]
    )
    http = files["madoguchi-00-http.conf"]
    zones = dict(re.findall(r"zone=(madoguchi_\w+):\d+m rate=(\d+)r/s", http.replace("r/m", "r/s")))
    assert set(zones) == {"madoguchi_login", "madoguchi_pages"}
    assert "rate=30r/m" in http  # logins: per minute; pages: per second
    assert "rate=50r/s" in http
    login = vendor.split("location ~ ^/accounts/(login|2fa|password|reauthenticate)/")[1].split("}")[0]
    assert "limit_req zone=madoguchi_login" in login
    assert "limit_req zone=madoguchi_pages" in vendor.split("location / {")[1]
    assert "limit_req_status 429;" in http


def test_the_access_log_never_writes_query_strings_referers_or_12_digit_runs() -> None:
    http = _files([VENDOR])["madoguchi-00-http.conf"]
    log_format = http.split("log_format madoguchi")[1].split(";")[0]
    for leaky in (
        "$request ",
        '$request"',
        "$request_uri",
        "$args",
        "$query_string",
        "$http_referer",
        "$uri ",
    ):
        assert leaky not in log_format
    assert "$madoguchi_uri" in log_format
    # The masking map, applied twice (a path can hold two numbers).
    pattern = re.compile(r"^(?P<a>.*?)[0-9]{4}[- ]?[0-9]{4}[- ]?[0-9]{4}(?P<b>.*)$")
    assert http.count('"~^(?<a>.*?)[0-9]{4}[- ]?[0-9]{4}[- ]?[0-9]{4}(?<b>.*)$" "$a[12]$b";') == 2
    masked = "/n/123456789018/x/1234-5678-9012/"
    for _ in range(2):
        masked = pattern.sub(r"\g<a>[12]\g<b>", masked)
    assert masked == "/n/[12]/x/[12]/"


def test_static_files_are_served_by_nginx_with_the_apps_headers(tmp_path: Path) -> None:
    vendor = _files([VENDOR], static_root=tmp_path / "static")["madoguchi-10-vendor.conf"]
    static = vendor.split("location /static/ {")[1].split("}")[0]
    assert f"alias {tmp_path / 'static'}/;" in static
    assert "X-Content-Type-Options nosniff" in static
    assert "frame-ancestors 'none'" in static


def test_write_replaces_its_own_files_and_leaves_others(tmp_path: Path) -> None:
    (tmp_path / "other.conf").write_text("# not ours")
    nginx.write(_files([VENDOR, RESIDENT_HOST]), tmp_path)
    assert (tmp_path / f"madoguchi-20-{RESIDENT_HOST}.conf").exists()
    assert (
        f"include {tmp_path.resolve()}/madoguchi-proxy.inc;"
        in (tmp_path / "madoguchi-10-vendor.conf").read_text()
    )
    nginx.write(_files([VENDOR]), tmp_path)  # the city's own host was removed from the Domain table
    assert not (tmp_path / f"madoguchi-20-{RESIDENT_HOST}.conf").exists()
    assert (tmp_path / "other.conf").read_text() == "# not ours"


@pytest.mark.django_db
def test_the_command_reads_the_domain_table(
    city: Municipality, other_city: Municipality, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Domain.objects.create(domain=RESIDENT_HOST, tenant=city, is_primary=False, kind=Domain.Kind.RESIDENT)
    call_command("nginx_sites", "--out", str(tmp_path / "sites"), "--tls-dir", str(tmp_path / "tls"))
    out = capsys.readouterr().out
    written = sorted(path.name for path in (tmp_path / "sites").iterdir())
    # The tests' vendor domain is localhost: ageo.localhost and okegawa.localhost are under its wildcard; the test
    # client's "testserver" host is not, so it gets a server (and a certificate) of its own, like a city's host.
    assert written == [
        "madoguchi-00-http.conf",
        "madoguchi-10-vendor.conf",
        "madoguchi-20-testserver.conf",
        f"madoguchi-20-{RESIDENT_HOST}.conf",
        "madoguchi-proxy.inc",
    ]
    assert f"localhost *.localhost: wildcard {tmp_path / 'tls' / 'wildcard.localhost.crt'}" in out
    assert f"{RESIDENT_HOST}: own certificate" in out
    assert "okegawa" not in "".join(written)


@pytest.mark.django_db
def test_the_command_refuses_a_bad_upstream(city: Municipality, tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        call_command("nginx_sites", "--out", str(tmp_path), "--upstream", "x; y")


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make ops-deps installs it as root)")
def test_nginx_accepts_the_generated_config(tmp_path: Path) -> None:
    tls = tmp_path / "tls"
    authority = local_authority(tls)
    in_a_year = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    issue_certificate(
        authority, [VENDOR, f"*.{VENDOR}"], tls / f"wildcard.{VENDOR}.crt", tls / f"wildcard.{VENDOR}.key"
    )
    issue_certificate(
        authority,
        [RESIDENT_HOST],
        tls / f"{RESIDENT_HOST}.crt",
        tls / f"{RESIDENT_HOST}.key",
        not_after=in_a_year,
    )
    (tmp_path / "static").mkdir()
    files = _files(
        [VENDOR, "ageo.madoguchi.example", RESIDENT_HOST],
        tls_dir=tls,
        static_root=tmp_path / "static",
        listen_addresses=("127.0.0.1",),
        https_port=18443,
        http_port=18480,
        access_log=str(tmp_path / "access.log"),
        stapling=False,
    )
    nginx.write(files, tmp_path / "sites")
    main = tmp_path / "nginx.conf"
    main.write_text(nginx.main_config(out=tmp_path / "sites", state=tmp_path, user=None))
    result = subprocess.run(
        [str(NGINX), "-t", "-q", "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_production_main_config_includes_the_generated_files() -> None:
    main = (nginx.ROOT / "ops" / "nginx" / "nginx.conf").read_text()
    assert "include /etc/madoguchi/nginx/madoguchi-*.conf;" in main
    assert "error_log /var/log/nginx/error.log crit;" in main
