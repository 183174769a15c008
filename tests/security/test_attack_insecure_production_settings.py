"""Issue 10, items 3 and 4: secure mode refuses to start on settings that fail open.

Before, `MADOGUCHI_SECURE=true` started with the public development secret key (anyone could mint manage links and
confirmation keys), without trusted proxies (behind nginx every client was 127.0.0.1, so per-address limits were
one global limit) and with loopback vendor networks (so the console was open to anyone through the proxy).

Each case starts a fresh process with the environment set, as a deployment would (settings are read once):
refused with a message naming the variable to set, or started, with the override's warning printed.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = secrets.token_urlsafe(64)
DEVELOPMENT_KEY = "dev-only-insecure-key-change-me-" + "0" * 20
# A production-like environment that passes every check; each case changes one thing.
GOOD = {
    "MADOGUCHI_SECURE": "true",
    "DJANGO_SECRET_KEY": GOOD_KEY,
    "MADOGUCHI_TRUSTED_PROXIES": "10.0.0.5/32",
    "MADOGUCHI_VENDOR_NETWORKS": "198.51.100.0/24,2001:db8:1::/48",
    "MADOGUCHI_AUDIT_KEY": secrets.token_urlsafe(48),
    "MADOGUCHI_API_KEY_PEPPER": secrets.token_urlsafe(48),
    "MADOGUCHI_VIRUS_SCANNERS": "clamd:unix:///run/clamav/clamd.ctl",
}
OURS = (
    "MADOGUCHI_SECURE",
    "DJANGO_SECRET_KEY",
    "MADOGUCHI_TRUSTED_PROXIES",
    "MADOGUCHI_VENDOR_NETWORKS",
    "MADOGUCHI_ALLOW_INSECURE",
    "MADOGUCHI_AUDIT_KEY",
    "MADOGUCHI_API_KEY_PEPPER",
    "MADOGUCHI_VIRUS_SCANNERS",
    "DJANGO_DEBUG",
)
UNSET = object()


def _env(tmp_path: Path, changes: dict[str, object]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in OURS}
    env.update(GOOD)
    for key, value in changes.items():
        if value is UNSET:
            env.pop(key, None)
        else:
            env[key] = str(value)
    env.update(
        {
            "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
            "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
            # Never the embedded server (settings would start it) and never a real database: setup() connects to none.
            "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/not-used",
            "MADOGUCHI_DATA_DIR": str(tmp_path),
        }
    )
    if changes.get("DATABASE_URL") is UNSET:
        env.pop("DATABASE_URL")  # secure mode must refuse before the settings would start the embedded server
    return env


def _run(tmp_path: Path, args: list[str], changes: dict[str, object]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(tmp_path, changes),
        timeout=120,
        check=False,
    )


def _start(tmp_path: Path, **changes: object) -> subprocess.CompletedProcess[str]:
    return _run(tmp_path, ["-c", "import django; django.setup(); print('started')"], changes)


def _refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "started" not in result.stdout
    assert "ImproperlyConfigured" in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def _started(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("started")


def test_a_correct_production_environment_starts_without_warnings(tmp_path: Path) -> None:
    result = _start(tmp_path)
    _started(result)
    assert "MADOGUCHI_ALLOW_INSECURE" not in result.stderr


def test_development_still_starts_with_the_defaults(tmp_path: Path) -> None:
    # Not secure mode: the development key, no proxies and loopback vendor networks are the defaults of `make run`.
    _started(
        _start(
            tmp_path,
            MADOGUCHI_SECURE=UNSET,
            DJANGO_SECRET_KEY=UNSET,
            MADOGUCHI_TRUSTED_PROXIES=UNSET,
            MADOGUCHI_VENDOR_NETWORKS=UNSET,
        )
    )


@pytest.mark.parametrize(
    ("secret_key", "words"),
    [
        (UNSET, ("DJANGO_SECRET_KEY", "development key")),
        (DEVELOPMENT_KEY, ("DJANGO_SECRET_KEY", "development key")),
        ("x" * 49, ("DJANGO_SECRET_KEY", "shorter than 50")),
    ],
)
def test_the_development_or_a_short_secret_key_is_refused(
    tmp_path: Path, secret_key: object, words: tuple[str, ...]
) -> None:
    _refused(_start(tmp_path, DJANGO_SECRET_KEY=secret_key), *words)


@pytest.mark.parametrize("audit_key", [UNSET, "", "k" * 31])
def test_an_unset_or_short_audit_key_is_refused_and_cannot_be_skipped(
    tmp_path: Path, audit_key: object
) -> None:
    """Derived from SECRET_KEY, the audit chain's key would change with it and the keyed rows stop verifying."""
    _refused(_start(tmp_path, MADOGUCHI_AUDIT_KEY=audit_key), "MADOGUCHI_AUDIT_KEY", "shorter than 32")
    every_override = "loopback-vendor,no-trusted-proxy"
    _refused(_start(tmp_path, MADOGUCHI_AUDIT_KEY=audit_key, MADOGUCHI_ALLOW_INSECURE=every_override))


def test_no_database_url_is_refused_before_an_embedded_server_starts(tmp_path: Path) -> None:
    """A deployment whose DATABASE_URL secret was forgotten would otherwise run on a database of its own."""
    every_override = "loopback-vendor,no-trusted-proxy,no-virus-scanner"
    result = _start(tmp_path, DATABASE_URL=UNSET, MADOGUCHI_ALLOW_INSECURE=every_override)
    _refused(result, "DATABASE_URL is unset", "cannot be skipped")
    assert not (tmp_path / "pg").exists()  # no embedded cluster was created


def test_the_secret_key_check_cannot_be_skipped(tmp_path: Path) -> None:
    result = _start(tmp_path, DJANGO_SECRET_KEY=DEVELOPMENT_KEY, MADOGUCHI_ALLOW_INSECURE="secret-key")
    _refused(result, "MADOGUCHI_ALLOW_INSECURE", "never the secret key")


def test_an_unknown_override_is_refused(tmp_path: Path) -> None:
    _refused(
        _start(tmp_path, MADOGUCHI_ALLOW_INSECURE="everything"), "MADOGUCHI_ALLOW_INSECURE", "everything"
    )


def test_no_trusted_proxies_is_refused(tmp_path: Path) -> None:
    _refused(
        _start(tmp_path, MADOGUCHI_TRUSTED_PROXIES=UNSET), "MADOGUCHI_TRUSTED_PROXIES", "no-trusted-proxy"
    )


def test_no_trusted_proxies_starts_with_the_override_and_warns(tmp_path: Path) -> None:
    result = _start(tmp_path, MADOGUCHI_TRUSTED_PROXIES=UNSET, MADOGUCHI_ALLOW_INSECURE="no-trusted-proxy")
    _started(result)
    assert "MADOGUCHI_ALLOW_INSECURE=no-trusted-proxy" in result.stderr


@pytest.mark.parametrize("networks", [UNSET, "127.0.0.0/8", "198.51.100.0/24,::1", "127.0.0.1/32"])
def test_loopback_vendor_networks_are_refused(tmp_path: Path, networks: object) -> None:
    # UNSET: the development default, 127.0.0.0/8 and ::1/128.
    _refused(
        _start(tmp_path, MADOGUCHI_VENDOR_NETWORKS=networks), "MADOGUCHI_VENDOR_NETWORKS", "loopback-vendor"
    )


def test_make_prod_local_starts_with_the_loopback_override_and_warns(tmp_path: Path) -> None:
    # nginx and the browser on this machine: the layout `make prod-local` will run.
    result = _start(
        tmp_path,
        MADOGUCHI_TRUSTED_PROXIES="127.0.0.1/32",
        MADOGUCHI_VENDOR_NETWORKS=UNSET,
        MADOGUCHI_ALLOW_INSECURE="loopback-vendor",
    )
    _started(result)
    assert "MADOGUCHI_ALLOW_INSECURE=loopback-vendor" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MADOGUCHI_VENDOR_NETWORKS", "0.0.0.0/0"),
        ("MADOGUCHI_VENDOR_NETWORKS", "2001::/16"),
        ("MADOGUCHI_VENDOR_NETWORKS", "not-a-range"),
        ("MADOGUCHI_TRUSTED_PROXIES", "0.0.0.0/0"),  # "every peer is our proxy": any X-Forwarded-For believed
    ],
)
def test_broad_or_unreadable_ranges_are_refused_even_with_every_override(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = _start(
        tmp_path, **{variable: value, "MADOGUCHI_ALLOW_INSECURE": "loopback-vendor,no-trusted-proxy"}
    )
    _refused(result, variable, value)


def _check_deploy(tmp_path: Path, **changes: object) -> subprocess.CompletedProcess[str]:
    return _run(tmp_path, [str(ROOT / "manage.py"), "check", "--deploy", "--tag", "security"], changes)


def test_check_deploy_reports_the_same_problems(tmp_path: Path) -> None:
    # Outside secure mode the process starts, and `check --deploy` names what a secure start would refuse.
    result = _check_deploy(
        tmp_path,
        MADOGUCHI_SECURE=UNSET,
        DJANGO_SECRET_KEY=UNSET,
        MADOGUCHI_TRUSTED_PROXIES=UNSET,
        MADOGUCHI_VENDOR_NETWORKS=UNSET,
    )
    assert result.returncode != 0
    for check_id in ("madoguchi.E101", "madoguchi.E102", "madoguchi.E103"):
        assert check_id in result.stderr, result.stderr


def test_check_deploy_reports_a_skipped_check_as_a_warning(tmp_path: Path) -> None:
    result = _check_deploy(
        tmp_path, MADOGUCHI_VENDOR_NETWORKS=UNSET, MADOGUCHI_ALLOW_INSECURE="loopback-vendor"
    )
    output = result.stdout + result.stderr
    assert "madoguchi.E103" in output
    assert "Skipped by MADOGUCHI_ALLOW_INSECURE=loopback-vendor" in output
    assert "madoguchi.E101" not in output
    assert "madoguchi.E102" not in output
