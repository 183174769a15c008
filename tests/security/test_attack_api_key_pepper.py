"""Issue 13: API keys are stored as HMAC-SHA256(pepper, secret); the pepper must live outside the database.

The attack: a copy of the database (a backup, a support dump) used to check guessed or leaked secrets offline, or
a deployment whose pepper silently follows DJANGO_SECRET_KEY, so that rotating the secret key stops every city's
systems at once. Secure mode must refuse to start without MADOGUCHI_API_KEY_PEPPER of at least 32 characters
(`madoguchi.E107`, never skippable).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from madoguchi import safety

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "secret_key": secrets.token_urlsafe(64),
    "audit_key": secrets.token_urlsafe(48),
    "trusted_proxies": ["10.0.0.5/32"],
    "vendor_networks": ["198.51.100.0/24"],
}


def _ids(**changes: object) -> list[str]:
    return [problem.check_id for problem in safety.problems(**{**GOOD, **changes})]  # type: ignore[arg-type]


def test_a_missing_or_short_pepper_is_a_problem_that_cannot_be_skipped() -> None:
    assert _ids(api_key_pepper=secrets.token_urlsafe(48)) == []
    for pepper in ("", "x" * 31):
        found = [p for p in safety.problems(**GOOD, api_key_pepper=pepper) if p.check_id == "madoguchi.E107"]  # type: ignore[arg-type]
        assert len(found) == 1
        assert not found[0].overridable
        assert "MADOGUCHI_API_KEY_PEPPER" in found[0].message


def test_the_development_pepper_is_derived_not_the_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MADOGUCHI_API_KEY_PEPPER", raising=False)
    derived = safety.api_key_pepper("some-secret-key")
    assert derived == safety.api_key_pepper("some-secret-key")
    assert derived != safety.api_key_pepper("another-secret-key")
    assert "some-secret-key" not in derived
    monkeypatch.setenv("MADOGUCHI_API_KEY_PEPPER", "p" * 40)
    assert safety.api_key_pepper("some-secret-key") == "p" * 40


def test_secure_mode_refuses_to_start_without_a_pepper(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MADOGUCHI_", "DJANGO_"))}
    env.update(
        {
            "MADOGUCHI_SECURE": "true",
            "DJANGO_SECRET_KEY": GOOD["secret_key"],  # type: ignore[dict-item]
            "MADOGUCHI_TRUSTED_PROXIES": "10.0.0.5/32",
            "MADOGUCHI_VENDOR_NETWORKS": "198.51.100.0/24",
            "MADOGUCHI_AUDIT_KEY": GOOD["audit_key"],  # type: ignore[dict-item]
            "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
            "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
            "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/not-used",
            "MADOGUCHI_DATA_DIR": str(tmp_path),
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "MADOGUCHI_API_KEY_PEPPER" in result.stderr
