"""Production settings pass `manage.py check --deploy`, and production responses carry HSTS and go to https.

Both run in a subprocess with the production environment (MADOGUCHI_SECURE=true, DEBUG off, a real secret key),
because settings are read once at start-up.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from madoguchi.config import embedded_database_url

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def production_env(db: None) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
        "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
        "MADOGUCHI_SECURE": "true",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        # Secure mode refuses to start without trusted proxies or with loopback vendor networks (madoguchi.safety).
        "MADOGUCHI_TRUSTED_PROXIES": "10.0.0.5/32",
        "MADOGUCHI_VENDOR_NETWORKS": "198.51.100.0/24",
        # ...and without its own audit key (derived from SECRET_KEY it would change with it).
        "MADOGUCHI_AUDIT_KEY": secrets.token_urlsafe(48),
        # ...and without the API keys' pepper (issue 13).
        "MADOGUCHI_API_KEY_PEPPER": secrets.token_urlsafe(48),
        # ...and without a virus scanner for uploads (configured, not contacted at start-up).
        "MADOGUCHI_VIRUS_SCANNERS": "clamd:unix:///run/clamav/clamd.ctl",
    }
    env.pop("MADOGUCHI_ALLOW_INSECURE", None)
    # The test database, never the developer's (the request below reaches the tenant middleware).
    test_db = connection.settings_dict["NAME"]
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{test_db}"))
    else:
        # The embedded server named by URL: secure mode refuses an unset DATABASE_URL (madoguchi.E109).
        env["DATABASE_URL"] = embedded_database_url(test_db)
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_production_settings(production_env: dict[str, str]) -> None:
    result = _manage(production_env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


PROBE = """
import json
from django.conf import settings
from django.test import Client

secure = Client().get("/healthz", secure=True)
plain = Client().get("/healthz")
print(json.dumps({
    "secure_status": secure.status_code,
    "hsts": secure.headers.get("Strict-Transport-Security"),
    "csp": secure.headers.get("Content-Security-Policy"),
    "plain_status": plain.status_code,
    "plain_location": plain.headers.get("Location"),
    "cookies_secure": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE],
}))
"""


def test_production_sends_hsts_and_redirects_plain_http(production_env: dict[str, str]) -> None:
    result = _manage(production_env, "shell", "-c", PROBE)
    assert result.returncode == 0, result.stderr
    probe: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])

    assert probe["secure_status"] == 200
    assert probe["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert "frame-ancestors 'none'" in probe["csp"]
    assert probe["plain_status"] == 301
    assert probe["plain_location"] == "https://testserver/healthz"
    assert probe["cookies_secure"] == [True, True]
