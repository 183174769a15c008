"""Attack signs: bursts from one address reach the vendor once, by email and Sentry; quiet traffic does not."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sentry_sdk
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.security.signs import record_sign, sign_source, signs_alert
from apps.security.signs_tasks import detect_attack_signs
from tenants.models import Municipality

WINDOW = 300
VENDOR_SOC = "soc@vendor.example"


@pytest.fixture(autouse=True)
def _signs_settings(settings: Any, mailoutbox: list[Any]) -> None:
    settings.ATTACK_SIGN_WINDOW_SECONDS = WINDOW
    settings.ATTACK_SIGN_THRESHOLDS = {"login_failed": 20, "network_refused": 20, "http_4xx": 200}
    settings.ATTACK_SIGN_LOOKBACK_WINDOWS = 3
    settings.VENDOR_ALERT_EMAILS = [VENDOR_SOC]


@pytest.fixture
def window_start(db: None) -> datetime:
    """The start of a window of its own: a cache shared with other runs (Redis) never holds its counters."""
    index = 6_000_000 + secrets.randbelow(1_000_000)
    return datetime.fromtimestamp(index * WINDOW, tz=UTC)


@pytest.fixture
def attacker() -> str:
    """A documentation address (RFC 5737 TEST-NET-3) of its own."""
    return f"203.0.113.{secrets.randbelow(254) + 1}"


@pytest.fixture
def sentry_messages(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    messages: list[str] = []
    monkeypatch.setattr(sentry_sdk, "capture_message", lambda message, **kwargs: messages.append(message))
    return messages


def _burst(kind: str, address: str, times: int, at: datetime) -> None:
    for second in range(times):
        record_sign(kind, address, now=at + timedelta(seconds=second % WINDOW))


def test_a_burst_of_failed_logins_sends_one_email_with_address_and_count(
    window_start: datetime, attacker: str, sentry_messages: list[str]
) -> None:
    _burst("login_failed", attacker, 25, window_start)

    signs = signs_alert(now=window_start + timedelta(seconds=WINDOW))

    assert [(s.kind, s.source, s.count) for s in signs] == [("login_failed", attacker, 25)]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [VENDOR_SOC]
    assert "攻撃の兆候" in message.subject
    assert "Attack signs" in message.subject
    assert f"ログイン失敗: {attacker} から 25 件" in message.body
    assert f"failed logins: 25 from {attacker}" in message.body
    assert message.body.index("ログイン失敗") < message.body.index("failed logins")  # Japanese first
    assert sentry_messages == [f"Attack sign: login_failed from {attacker} (25 in {WINDOW} s)"]


def test_below_the_threshold_nothing_is_sent(
    window_start: datetime, attacker: str, sentry_messages: list[str]
) -> None:
    _burst("login_failed", attacker, 19, window_start)
    _burst("network_refused", attacker, 19, window_start)

    assert signs_alert(now=window_start + timedelta(seconds=WINDOW)) == []
    assert mail.outbox == []
    assert sentry_messages == []


def test_the_next_run_does_not_send_the_same_sign_again(window_start: datetime, attacker: str) -> None:
    _burst("network_refused", attacker, 20, window_start)
    first = signs_alert(now=window_start + timedelta(seconds=WINDOW))
    second = signs_alert(now=window_start + timedelta(seconds=WINDOW + 5))
    # Later runs still look back on that window (a missed run loses nothing) and still stay quiet about it.
    third = signs_alert(now=window_start + timedelta(seconds=3 * WINDOW))

    assert len(first) == 1
    assert second == []
    assert third == []
    assert len(mail.outbox) == 1


def test_windows_are_counted_separately(window_start: datetime, attacker: str) -> None:
    _burst("login_failed", attacker, 15, window_start)
    _burst("login_failed", attacker, 15, window_start + timedelta(seconds=WINDOW))

    assert signs_alert(now=window_start + timedelta(seconds=2 * WINDOW)) == []
    assert mail.outbox == []


def test_a_burst_in_a_later_window_is_a_new_sign(window_start: datetime, attacker: str) -> None:
    _burst("login_failed", attacker, 20, window_start)
    signs_alert(now=window_start + timedelta(seconds=WINDOW))
    _burst("login_failed", attacker, 30, window_start + timedelta(seconds=WINDOW))

    later = signs_alert(now=window_start + timedelta(seconds=2 * WINDOW))

    assert [(s.source, s.count) for s in later] == [(attacker, 30)]
    assert len(mail.outbox) == 2


def test_the_window_in_progress_waits_until_it_ends(window_start: datetime, attacker: str) -> None:
    _burst("login_failed", attacker, 20, window_start)

    assert signs_alert(now=window_start + timedelta(seconds=WINDOW - 1)) == []
    assert len(signs_alert(now=window_start + timedelta(seconds=WINDOW))) == 1


def test_each_address_and_kind_is_its_own_sign(window_start: datetime, attacker: str) -> None:
    quiet_neighbour = "198.51.100.7"
    _burst("login_failed", attacker, 20, window_start)
    _burst("network_refused", attacker, 21, window_start)
    _burst("login_failed", quiet_neighbour, 5, window_start)

    signs = signs_alert(now=window_start + timedelta(seconds=WINDOW))

    assert sorted((s.kind, s.source, s.count) for s in signs) == [
        ("login_failed", attacker, 20),
        ("network_refused", attacker, 21),
    ]
    assert len(mail.outbox) == 1  # one email per run, listing every new sign
    assert quiet_neighbour not in mail.outbox[0].body


def test_one_address_trying_several_cities_is_counted_once_for_all(
    city: Municipality, other_city: Municipality, window_start: datetime, attacker: str
) -> None:
    with schema_context(city.schema_name):
        _burst("login_failed", attacker, 10, window_start)
    with schema_context(other_city.schema_name):
        _burst("login_failed", attacker, 10, window_start)

    signs = signs_alert(now=window_start + timedelta(seconds=WINDOW))

    assert [(s.source, s.count) for s in signs] == [(attacker, 20)]


def test_ipv6_addresses_count_per_64() -> None:
    assert sign_source("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert sign_source("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64"
    assert sign_source("::ffff:203.0.113.9") == "203.0.113.9"
    assert sign_source("203.0.113.9") == "203.0.113.9"
    assert sign_source("") == "unknown"
    assert sign_source("not an address") == "unknown"


def test_an_ipv6_attacker_rotating_addresses_is_still_one_sign(window_start: datetime) -> None:
    prefix = f"2001:db8:{secrets.randbelow(0xFFFF):x}:1"
    for host in range(20):
        record_sign("login_failed", f"{prefix}::{host + 1:x}", now=window_start)

    signs = signs_alert(now=window_start + timedelta(seconds=WINDOW))

    assert [(s.source, s.count) for s in signs] == [(f"{prefix}::/64", 20)]


def test_an_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown attack sign kind"):
        record_sign("login_failure", "203.0.113.9")


def test_without_alert_addresses_sentry_still_hears_of_it(
    settings: Any, window_start: datetime, attacker: str, sentry_messages: list[str]
) -> None:
    settings.VENDOR_ALERT_EMAILS = []
    _burst("login_failed", attacker, 20, window_start)

    assert len(signs_alert(now=window_start + timedelta(seconds=WINDOW))) == 1
    assert mail.outbox == []
    assert len(sentry_messages) == 1


def test_a_failed_email_is_retried_by_the_next_run(
    window_start: datetime, attacker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _burst("login_failed", attacker, 20, window_start)

    def smtp_down(*args: object, **kwargs: object) -> int:
        raise ConnectionRefusedError("smtp down")

    with monkeypatch.context() as patch:
        patch.setattr("apps.security.signs.send_mail", smtp_down)
        with pytest.raises(ConnectionRefusedError):
            signs_alert(now=window_start + timedelta(seconds=WINDOW))

    assert len(signs_alert(now=window_start + timedelta(seconds=WINDOW + 60))) == 1
    assert len(mail.outbox) == 1


def test_a_storm_of_4xx_responses_from_one_address_is_a_sign(
    settings: Any, city_client: Client, sentry_messages: list[str]
) -> None:
    settings.ATTACK_SIGN_THRESHOLDS = {"login_failed": 20, "network_refused": 20, "http_4xx": 5}
    scanner = f"2001:db8:{secrets.randbelow(0xFFFF):x}:2::5"
    for probe in ("/.env", "/wp-admin/", "/.git/config", "/phpmyadmin/", "/admin.php"):
        assert city_client.get(probe, REMOTE_ADDR=scanner).status_code == 404
    # A page cached before a deploy asks for assets that are gone: not counted.
    for _ in range(5):
        assert city_client.get("/static/css/gone.css", REMOTE_ADDR="198.51.100.99").status_code == 404

    signs = signs_alert(now=timezone.now() + timedelta(seconds=WINDOW))

    assert [(s.kind, s.source, s.count) for s in signs] == [("http_4xx", sign_source(scanner), 5)]


def test_failed_logins_at_a_city_reach_the_vendor(settings: Any, city_client: Client) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # 20 logins, quickly
    # Inside the test cities' allowed networks (127.0.0.0/8), so that the login form answers; a password spray
    # (a new login each time) so that no single account's lockout stops the counting first.
    sprayer = f"127.0.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"
    for attempt in range(20):
        city_client.post(
            "/accounts/login/",
            {"login": f"guess{attempt}", "password": "wrong-password-1"},
            REMOTE_ADDR=sprayer,
        )

    signs = signs_alert(now=timezone.now() + timedelta(seconds=WINDOW))

    assert ("login_failed", sprayer, 20) in [(s.kind, s.source, s.count) for s in signs]


def test_staff_pages_refused_by_network_reach_the_vendor(city_client: Client, attacker: str) -> None:
    for _ in range(20):
        assert city_client.get("/accounts/login/", REMOTE_ADDR=attacker).status_code == 403

    signs = signs_alert(now=timezone.now() + timedelta(seconds=WINDOW))

    assert ("network_refused", attacker, 20) in [(s.kind, s.source, s.count) for s in signs]


def test_the_periodic_task_reports_the_window_that_just_ended(db: None, attacker: str) -> None:
    # The whole burst inside the window that just ended (a burst straddling two windows would count half in each).
    previous_window = (int(timezone.now().timestamp()) // WINDOW - 1) * WINDOW
    for _ in range(20):
        record_sign("login_failed", attacker, now=datetime.fromtimestamp(previous_window, tz=UTC))

    assert detect_attack_signs() >= 1
    assert any(attacker in message.body for message in mail.outbox)
