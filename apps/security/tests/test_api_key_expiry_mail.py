"""The mail before an API key expires (issue 13): once per key and expiry, in Japanese, to the city's supervisors
only; never for a revoked, expired or distant key; again after a rotation with a new expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone, translation
from django_tenants.utils import schema_context

from apps.security import api_key_tasks
from apps.security.actors import as_actor
from apps.security.api_keys import api_key_revoke, api_key_rotate
from apps.security.models import ApiKey, ApiScope, Role
from apps.security.tests.api_helpers import make_key
from tenants.models import Municipality
from tests.factories import UserFactory, supervisor_user


@pytest.fixture
def people(city: Municipality, other_city: Municipality) -> None:
    """Two supervisors (one of them inactive), a counter clerk and an auditor in the city; a supervisor next door."""
    with schema_context(city.schema_name):
        UserFactory(username="boss-a", email="boss-a@city.example.jp", role=Role.SUPERVISOR)
        UserFactory(username="boss-b", email="boss-b@city.example.jp", role=Role.SUPERVISOR)
        UserFactory(username="boss-gone", email="gone@city.example.jp", role=Role.SUPERVISOR, is_active=False)
        UserFactory(username="clerk", email="clerk@city.example.jp", role=Role.STAFF)
        UserFactory(username="auditor", email="auditor@city.example.jp", role=Role.AUDITOR)
    with schema_context(other_city.schema_name):
        UserFactory(username="boss-next-door", email="boss@other.example.jp", role=Role.SUPERVISOR)


def _expiring(city: Municipality, days: float, name: str = "住民記録システム") -> ApiKey:
    key, _token = make_key(city, ApiScope.SLOTS_READ, ApiScope.CARDS_READ, name=name)
    with schema_context(city.schema_name):
        ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() + timedelta(days=days))
        return ApiKey.objects.get(pk=key.pk)


def _run(city: Municipality) -> int:
    with schema_context(city.schema_name):
        return int(api_key_tasks.api_keys_expiry_warn())


def test_the_mail_goes_once_in_japanese_to_the_supervisors(
    city: Municipality, people: None, mailoutbox: list[Any]
) -> None:
    key = _expiring(city, 5)
    translation.activate("en")  # whatever language is active in the worker
    assert _run(city) == 1
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    with schema_context(city.schema_name):  # every active supervisor with an address (make_key's included)
        assert sorted(mail.to) == api_key_tasks.supervisor_addresses()
    assert {"boss-a@city.example.jp", "boss-b@city.example.jp"} <= set(mail.to)
    assert not {"gone@city.example.jp", "clerk@city.example.jp", "auditor@city.example.jp"} & set(mail.to)
    assert "boss@other.example.jp" not in mail.to
    assert mail.subject == f"【上尾市】APIキー「住民記録システム」（{key.prefix}）の有効期限が近づいています"
    assert "次のAPIキーは、あと5日で有効期限が切れます。" in mail.body
    assert f"識別子: {key.prefix}" in mail.body
    assert "空き状況の参照（slots:read）、カードの参照（cards:read）" in mail.body
    assert "最終利用: 未使用" in mail.body
    assert "http://ageo.localhost/staff/security/api-keys/" in mail.body
    with schema_context(city.schema_name):
        assert ApiKey.objects.get(pk=key.pk).expiry_warned_at is not None

    assert _run(city) == 0  # the next runs: nothing more for the same expiry
    assert _run(city) == 0
    assert len(mailoutbox) == 1


def test_no_mail_for_revoked_expired_distant_or_endless_keys(
    city: Municipality, people: None, mailoutbox: list[Any]
) -> None:
    revoked = _expiring(city, 3, name="失効済み")
    _expiring(city, -1, name="期限切れ")
    _expiring(city, 30, name="まだ先")
    make_key(city, name="期限なし")
    with schema_context(city.schema_name):
        api_key_revoke(key_id=revoked.pk, actor=as_actor(supervisor_user()))
    assert _run(city) == 0
    assert mailoutbox == []


@override_settings(API_KEY_EXPIRY_WARN_DAYS=40)
def test_the_warning_period_is_a_setting(city: Municipality, people: None, mailoutbox: list[Any]) -> None:
    _expiring(city, 30)
    assert _run(city) == 1
    assert len(mailoutbox) == 1


def test_a_rotation_with_a_new_expiry_is_warned_again(
    city: Municipality, people: None, mailoutbox: list[Any]
) -> None:
    key = _expiring(city, 5)
    assert _run(city) == 1
    with schema_context(city.schema_name):
        api_key_rotate(key_id=key.pk, actor=as_actor(supervisor_user()))  # same expiry: still warned
    assert _run(city) == 0
    with schema_context(city.schema_name):
        api_key_rotate(
            key_id=key.pk, actor=as_actor(supervisor_user()), expires_at=timezone.now() + timedelta(days=10)
        )
    assert _run(city) == 1
    assert len(mailoutbox) == 2
    assert "あと10日" in mailoutbox[1].body


def test_a_failed_send_is_tried_again_next_time(
    city: Municipality, people: None, mailoutbox: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _expiring(city, 5)

    def refuse(self: object, fail_silently: bool = False) -> int:
        raise OSError("mail server down")

    with monkeypatch.context() as patch:
        patch.setattr("django.core.mail.EmailMessage.send", refuse)
        assert _run(city) == 0
    with schema_context(city.schema_name):
        assert ApiKey.objects.get(pk=key.pk).expiry_warned_at is None
    assert _run(city) == 1
    assert len(mailoutbox) == 1


def test_another_citys_run_sends_nothing_about_this_citys_keys(
    city: Municipality, other_city: Municipality, people: None, mailoutbox: list[Any]
) -> None:
    _expiring(city, 5)
    assert _run(other_city) == 0
    assert mailoutbox == []


def test_beat_fans_out_to_every_city(city: Municipality, monkeypatch: pytest.MonkeyPatch) -> None:
    schemas: list[str] = []
    monkeypatch.setattr(
        api_key_tasks.api_keys_expiry_warn, "delay", lambda: schemas.append(connection.schema_name)
    )
    sent = api_key_tasks.api_keys_expiry_warn_everywhere()
    assert sent == len(schemas)
    assert {"ageo", "okegawa"} <= set(schemas)
    assert api_key_tasks.api_keys_expiry_warn.name == "security.api_keys_expiry_warn"
