"""Secure mode refuses to start without a virus scanner for uploads, unless MADOGUCHI_ALLOW_INSECURE names the check
(logged at every start); a scanner spec that does not parse stops the start in any mode; development starts
without scanners. Each case starts a fresh process, as a deployment would (settings are read once)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from madoguchi import safety

ROOT = Path(__file__).resolve().parents[3]
PRODUCTION = {
    "MADOGUCHI_SECURE": "true",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "MADOGUCHI_TRUSTED_PROXIES": "10.0.0.5/32",
    "MADOGUCHI_VENDOR_NETWORKS": "198.51.100.0/24",
    "MADOGUCHI_AUDIT_KEY": secrets.token_urlsafe(48),
    "MADOGUCHI_API_KEY_PEPPER": secrets.token_urlsafe(48),
}


def _start(tmp_path: Path, **changes: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MADOGUCHI_", "DJANGO_"))}
    env.update(
        {
            **PRODUCTION,
            **changes,
            "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
            "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
            # setup() connects to no database; never the embedded one.
            "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/not-used",
            "MADOGUCHI_DATA_DIR": str(tmp_path),
        }
    )
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={key: value for key, value in env.items() if value != "UNSET"},
        timeout=120,
        check=False,
    )


def test_secure_mode_refuses_to_start_without_a_scanner(tmp_path: Path) -> None:
    result = _start(tmp_path)
    assert result.returncode != 0
    assert "started" not in result.stdout
    assert "MADOGUCHI_VIRUS_SCANNERS is unset" in result.stderr
    assert "no-virus-scanner" in result.stderr


def test_secure_mode_starts_with_a_scanner_configured(tmp_path: Path) -> None:
    result = _start(tmp_path, MADOGUCHI_VIRUS_SCANNERS="clamd:unix:///run/clamav/clamd.ctl")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("started")
    assert "MADOGUCHI_ALLOW_INSECURE" not in result.stderr


def test_the_override_starts_without_a_scanner_and_warns(tmp_path: Path) -> None:
    result = _start(tmp_path, MADOGUCHI_ALLOW_INSECURE="no-virus-scanner")
    assert result.returncode == 0, result.stderr
    assert "MADOGUCHI_ALLOW_INSECURE=no-virus-scanner" in result.stderr


def test_a_spec_that_does_not_parse_stops_even_development(tmp_path: Path) -> None:
    result = _start(tmp_path, MADOGUCHI_SECURE="false", MADOGUCHI_VIRUS_SCANNERS="clamav:/run/clamd.ctl")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "'clamav:/run/clamd.ctl' is not a scanner" in result.stderr


def test_development_starts_without_scanners(tmp_path: Path) -> None:
    result = _start(tmp_path, MADOGUCHI_SECURE="false", MADOGUCHI_VIRUS_SCANNERS="UNSET")
    assert result.returncode == 0, result.stderr


def test_check_deploy_reports_the_missing_scanner() -> None:
    found = safety.problems(
        secret_key="k" * 64,
        audit_key="a" * 40,
        trusted_proxies=["10.0.0.5/32"],
        vendor_networks=["198.51.100.0/24"],
        virus_scanners=[],
    )
    assert [(problem.check, problem.check_id, problem.overridable) for problem in found] == [
        ("no-virus-scanner", "madoguchi.E108", True)
    ]
    assert not safety.problems(
        secret_key="k" * 64,
        audit_key="a" * 40,
        trusted_proxies=["10.0.0.5/32"],
        vendor_networks=["198.51.100.0/24"],
        virus_scanners=["command:/opt/vendor/scan --stdin"],
    )
