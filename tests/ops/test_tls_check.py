"""nginx's certificates: `manage.py tls_check` and the reminder mail before one expires (madoguchi.tls)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import override_settings

from madoguchi.tls import issue_certificate, local_authority, tls_expiry_remind
from tenants.models import Domain, Municipality

pytestmark = pytest.mark.django_db

RESIDENT_HOST = "yoyaku.city.ageo.lg.jp"
OPERATORS = ["ops@vendor.example"]
NOW = dt.datetime(2027, 3, 1, 0, 0, tzinfo=dt.UTC)


def _certificates(tls: Path, days_left: dict[str, int]) -> None:
    """One certificate per name of the tests' Domain table (vendor domain localhost), expiring as asked."""
    authority = local_authority(tls / "ca")
    files = {"wildcard": "wildcard.localhost", "testserver": "testserver", RESIDENT_HOST: RESIDENT_HOST}
    for name, days in days_left.items():
        stem = files[name]
        names = ["localhost", "*.localhost"] if name == "wildcard" else [stem]
        not_after = NOW + dt.timedelta(days=days, hours=1)
        issue_certificate(authority, names, tls / f"{stem}.crt", tls / f"{stem}.key", not_after=not_after)


@pytest.fixture
def resident_host(city: Municipality, other_city: Municipality) -> Domain:
    return Domain.objects.create(
        domain=RESIDENT_HOST, tenant=city, is_primary=False, kind=Domain.Kind.RESIDENT
    )


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[Path]:
    with override_settings(
        TLS_CERT_DIR=tmp_path / "tls",
        DATA_DIR=tmp_path / "data",
        TLS_REMIND_DAYS=[30, 7],
        VENDOR_ALERT_EMAILS=OPERATORS,
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    ):
        (tmp_path / "tls").mkdir()
        yield tmp_path / "tls"


def _subjects() -> list[str]:
    return sorted(str(message.subject) for message in mail.outbox)


def test_each_certificate_is_reminded_once_per_threshold(resident_host: Domain, tls: Path) -> None:
    _certificates(tls, {"wildcard": 200, "testserver": 5, RESIDENT_HOST: 20})
    mailed = tls_expiry_remind(NOW)
    assert sorted(status.name for status in mailed) == ["testserver", RESIDENT_HOST]
    # First seen with 5 days left: one mail, for both thresholds it is under.
    assert _subjects() == [
        "[窓口] TLS証明書 testserver の有効期限まであと 5 日です",
        f"[窓口] TLS証明書 {RESIDENT_HOST} の有効期限まであと 20 日です",
    ]
    message = next(m for m in mail.outbox if RESIDENT_HOST in m.subject)
    assert message.to == OPERATORS
    assert str(tls / f"{RESIDENT_HOST}.crt") in message.body
    assert "ops/nginx/README.md" in message.body
    assert "あと 20 日" in message.body
    assert "-" * 40 in message.body  # Japanese first, the English catalogue's text below

    mail.outbox.clear()
    assert tls_expiry_remind(NOW + dt.timedelta(hours=6)) == []  # the same day again: nothing new
    assert mail.outbox == []

    # Two weeks later the resident host's certificate is under 7 days, and testserver's has expired.
    tls_expiry_remind(NOW + dt.timedelta(days=14))
    assert _subjects() == [
        "[窓口] TLS証明書 testserver の有効期限が切れています",
        f"[窓口] TLS証明書 {RESIDENT_HOST} の有効期限まであと 6 日です",
    ]
    mail.outbox.clear()
    tls_expiry_remind(NOW + dt.timedelta(days=15))
    assert mail.outbox == []


def test_a_renewed_certificate_is_reminded_afresh(resident_host: Domain, tls: Path) -> None:
    _certificates(tls, {"wildcard": 200, "testserver": 200, RESIDENT_HOST: 20})
    tls_expiry_remind(NOW)
    assert len(mail.outbox) == 1
    mail.outbox.clear()
    # Renewed for a year; a year later its new notAfter comes near and the operators hear of it again.
    _certificates(tls, {"wildcard": 365 + 200, "testserver": 365 + 200, RESIDENT_HOST: 365 + 20})
    assert tls_expiry_remind(NOW) == []
    tls_expiry_remind(NOW + dt.timedelta(days=365))
    assert _subjects() == [f"[窓口] TLS証明書 {RESIDENT_HOST} の有効期限まであと 20 日です"]


def test_a_missing_certificate_is_reported_once(resident_host: Domain, tls: Path) -> None:
    _certificates(tls, {"wildcard": 200, "testserver": 200})
    tls_expiry_remind(NOW)
    assert _subjects() == [f"[窓口] TLS証明書 {RESIDENT_HOST} を読み取れません"]
    assert "missing" in mail.outbox[0].body
    tls_expiry_remind(NOW)
    assert len(mail.outbox) == 1


def test_nothing_is_checked_where_the_certificates_are_not(city: Municipality, tmp_path: Path) -> None:
    with override_settings(
        TLS_CERT_DIR=tmp_path / "absent", DATA_DIR=tmp_path, VENDOR_ALERT_EMAILS=OPERATORS
    ):
        assert tls_expiry_remind(NOW) == []
    assert mail.outbox == []


def test_tls_check_prints_each_certificate_and_fails_when_one_is_due(
    resident_host: Domain, tls: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = dt.datetime.now(dt.UTC)
    days_from_now = (now - NOW).days
    _certificates(tls, {"wildcard": days_from_now + 200, "testserver": days_from_now + 90})
    _certificates(tls, {RESIDENT_HOST: days_from_now + 10})
    with pytest.raises(CommandError, match=RESIDENT_HOST):
        call_command("tls_check")
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert set(lines) == {"*.localhost", "testserver", RESIDENT_HOST}
    assert lines["*.localhost"].endswith("ok")
    assert " 199 days left" in lines["*.localhost"] or " 200 days left" in lines["*.localhost"]
    assert lines[RESIDENT_HOST].endswith("DUE")
    # Within a narrower bound, nothing is due: exit 0.
    call_command("tls_check", "--days", "5")


def test_tls_check_names_an_expired_and_a_missing_certificate(
    resident_host: Domain, tls: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = dt.datetime.now(dt.UTC)
    _certificates(tls, {"wildcard": (now - NOW).days - 3})
    with pytest.raises(CommandError):
        call_command("tls_check", "--days", "1")
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["*.localhost"].endswith("EXPIRED")
    assert lines[RESIDENT_HOST].endswith("MISSING")
