"""API keys (issue 13): created, rotated and revoked by supervisors, audited; only an HMAC of the secret is stored;
the check on every request refuses each bad token with its own reason and writes last use at most once a minute."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import RequestFactory, override_settings
from django.utils import timezone
from django_tenants.utils import schema_context
from rest_framework.request import Request

from apps.security.actors import Actor, as_actor
from apps.security.api_auth import NEVER_FOR_KEYS, SCOPE_PERMISSIONS, ApiKeyAuthentication, scope_grants
from apps.security.api_keys import (
    Refusal,
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    api_key_rotate,
    secret_hash,
)
from apps.security.audit import audit_record
from apps.security.audit_models import ActorKind, AuditEvent
from apps.security.models import ApiKey, ApiScope
from apps.security.request_actor import request_actor
from apps.security.roles import ISSUE_CARDS, MANAGE_SECURITY, VIEW_REPORTS, WORK_COUNTER
from tenants.models import Municipality
from tests.factories import staff_user, supervisor_user

MY_NUMBER = "123456789018"


def _create(
    name: str = "住民記録システム", scopes: tuple[str, ...] = (ApiScope.SLOTS_READ,)
) -> tuple[ApiKey, str]:
    issued = api_key_create(name=name, scopes=scopes, expires_at=None, actor=as_actor(supervisor_user()))
    return issued.key, issued.token


def test_a_supervisor_creates_a_key_shown_once_and_stored_as_an_hmac(in_city: Municipality) -> None:
    key, token = _create()
    assert token.startswith(f"mdg_{key.prefix}_")
    secret = token.split("_", 2)[2]
    row = ApiKey.objects.get(pk=key.pk)
    assert row.secret_hash == secret_hash(secret)
    assert len(row.secret_hash) == 64
    # No column of the row holds the token or the secret.
    stored = " ".join(str(getattr(row, field.attname)) for field in ApiKey._meta.concrete_fields)
    assert secret not in stored
    assert token not in stored
    event = AuditEvent.objects.get(action="api_key.created")
    assert event.actor_kind == ActorKind.STAFF
    assert key.prefix in event.target
    assert secret not in (event.summary + str(event.after))


def test_the_hmac_depends_on_the_pepper(in_city: Municipality) -> None:
    _key, token = _create()
    assert isinstance(api_key_authenticate(token, "127.0.0.1"), ApiKey)
    with override_settings(API_KEY_PEPPER="another-pepper-of-at-least-32-characters"):
        assert api_key_authenticate(token, "127.0.0.1") == Refusal.UNKNOWN


def test_a_pepper_rotation_keeps_keys_working_and_rehashes_them_on_use(in_city: Municipality) -> None:
    key, token = _create()
    old = ApiKey.objects.get(pk=key.pk).secret_hash
    new_pepper = "the-new-pepper-of-at-least-32-characters"
    with override_settings(API_KEY_PEPPER=new_pepper, API_KEY_PEPPER_FALLBACKS=[settings.API_KEY_PEPPER]):
        # The old pepper is a fallback: the key still works, and its first use stores it under the new pepper.
        assert isinstance(api_key_authenticate(token, "127.0.0.1"), ApiKey)
        rehashed = ApiKey.objects.get(pk=key.pk).secret_hash
        assert rehashed != old
        assert rehashed == secret_hash(token.split("_", 2)[2], new_pepper)
        # A wrong secret stays unknown under either pepper.
        assert api_key_authenticate(token[:-2] + "xx", "127.0.0.1") == Refusal.UNKNOWN
    with override_settings(API_KEY_PEPPER=new_pepper, API_KEY_PEPPER_FALLBACKS=[]):
        # The fallback removed: the key used during the rotation works; one never used would not.
        assert isinstance(api_key_authenticate(token, "127.0.0.1"), ApiKey)
        _unused, unused_token = _create(name="使われなかったキー")
    with override_settings(
        API_KEY_PEPPER="a-third-pepper-of-at-least-32-characters!", API_KEY_PEPPER_FALLBACKS=[]
    ):
        assert api_key_authenticate(unused_token, "127.0.0.1") == Refusal.UNKNOWN


def test_only_supervisors_manage_keys(in_city: Municipality) -> None:
    with pytest.raises(PermissionDenied):
        api_key_create(name="x", scopes=["slots:read"], expires_at=None, actor=as_actor(staff_user()))
    key, _token = _create()
    for service in (api_key_rotate, api_key_revoke):
        with pytest.raises(PermissionDenied):
            service(key_id=key.pk, actor=as_actor(staff_user()))
        # Nor a key itself: an API-key actor holds no permission.
        with pytest.raises(PermissionDenied):
            service(key_id=key.pk, actor=Actor.of_api_key(key))
    assert not AuditEvent.objects.filter(action__in=["api_key.rotated", "api_key.revoked"]).exists()


def test_names_and_scopes_are_checked(in_city: Municipality) -> None:
    supervisor = as_actor(supervisor_user())
    with pytest.raises(ValidationError):
        api_key_create(name=f"担当 {MY_NUMBER}", scopes=["slots:read"], expires_at=None, actor=supervisor)
    with pytest.raises(ValidationError):
        api_key_create(name="x", scopes=["everything"], expires_at=None, actor=supervisor)
    with pytest.raises(ValidationError):
        api_key_create(name="x", scopes=[], expires_at=None, actor=supervisor)
    with pytest.raises(ValidationError):
        api_key_create(
            name="x", scopes=["slots:read"], expires_at=timezone.now() - timedelta(days=1), actor=supervisor
        )
    assert not ApiKey.objects.exists()


def test_rotation_stops_the_old_token_at_once(in_city: Municipality) -> None:
    key, old = _create()
    new = api_key_rotate(key_id=key.pk, actor=as_actor(supervisor_user())).token
    assert new != old
    assert new.startswith(f"mdg_{key.prefix}_")
    assert api_key_authenticate(old, "127.0.0.1") == Refusal.UNKNOWN
    assert isinstance(api_key_authenticate(new, "127.0.0.1"), ApiKey)
    assert AuditEvent.objects.filter(action="api_key.rotated", target=f"api_key:{key.prefix}").count() == 1


def test_revoke_and_expiry_refuse_with_their_reason(in_city: Municipality) -> None:
    key, token = _create()
    api_key_revoke(key_id=key.pk, actor=as_actor(supervisor_user()))
    api_key_revoke(key_id=key.pk, actor=as_actor(supervisor_user()))  # idempotent
    assert api_key_authenticate(token, "127.0.0.1") == Refusal.REVOKED
    assert AuditEvent.objects.filter(action="api_key.revoked").count() == 1
    with pytest.raises(ValidationError):
        api_key_rotate(key_id=key.pk, actor=as_actor(supervisor_user()))

    other, other_token = _create("集計")
    ApiKey.objects.filter(pk=other.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api_key_authenticate(other_token, "127.0.0.1") == Refusal.EXPIRED


@pytest.mark.parametrize(
    ("token", "refusal"),
    [
        ("", Refusal.MISSING),
        ("abc", Refusal.MALFORMED),
        ("mdg_short_" + "x" * 43, Refusal.MALFORMED),
        ("xyz_abcdefgh_" + "x" * 43, Refusal.MALFORMED),
        ("mdg_abcdefgh_" + "x" * 43, Refusal.UNKNOWN),
    ],
)
def test_bad_tokens(in_city: Municipality, token: str, refusal: Refusal) -> None:
    _create()
    assert api_key_authenticate(token, "127.0.0.1") == refusal


def test_a_wrong_secret_for_a_known_prefix_is_unknown(in_city: Municipality) -> None:
    _key, token = _create()
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert api_key_authenticate(wrong, "127.0.0.1") == Refusal.UNKNOWN


def test_last_use_is_written_at_most_once_a_minute(in_city: Municipality) -> None:
    key, token = _create()
    now = timezone.now()
    api_key_authenticate(token, "192.0.2.1", now=now)
    api_key_authenticate(token, "192.0.2.2", now=now + timedelta(seconds=30))
    key.refresh_from_db()
    assert key.last_used_at == now
    assert key.last_used_address == "192.0.2.1"
    later = now + timedelta(seconds=61)
    api_key_authenticate(token, "192.0.2.2", now=later)
    key.refresh_from_db()
    assert key.last_used_at == later
    assert key.last_used_address == "192.0.2.2"


def test_the_api_key_actor_and_its_audit_rows(in_city: Municipality) -> None:
    key, _token = _create()
    actor = Actor.of_api_key(key, address="192.0.2.7", request_id="r-1")
    assert actor.kind == ActorKind.API_KEY
    assert actor.username == f"api:{key.prefix} {key.name}"
    assert actor.id is None
    assert actor.user is None
    assert not actor.has_perm(WORK_COUNTER)
    audit_record(action="request.write", actor=actor, target="/api/v1/x")
    event = AuditEvent.objects.get(action="request.write")
    assert (event.actor_kind, event.actor_username, event.address) == (
        ActorKind.API_KEY,
        actor.username,
        "192.0.2.7",
    )


def test_a_request_with_a_key_acts_as_the_key(in_city: Municipality) -> None:
    key, token = _create()
    django_request = RequestFactory().get(
        "/api/v1/purposes/", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR="127.0.0.1"
    )
    request = Request(django_request, authenticators=[ApiKeyAuthentication()])
    assert request.auth == key
    actor = request_actor(django_request)  # what views, services and AuditWritesMiddleware see
    assert actor.kind == ActorKind.API_KEY
    assert key.prefix in actor.username
    assert actor.address == "127.0.0.1"


def test_scopes_map_to_the_permissions_they_stand_for() -> None:
    assert scope_grants(["reservations:write"], WORK_COUNTER)
    assert not scope_grants(["reservations:read"], WORK_COUNTER)
    assert scope_grants(["cards:write"], ISSUE_CARDS)
    assert scope_grants(["reports:read"], VIEW_REPORTS)
    assert not scope_grants(list(ApiScope.values), MANAGE_SECURITY)
    assert set(SCOPE_PERMISSIONS) == set(ApiScope.values)
    assert not any(granted & NEVER_FOR_KEYS for granted in SCOPE_PERMISSIONS.values())


def test_keys_are_per_city(city: Municipality, other_city: Municipality) -> None:
    with schema_context(city.schema_name):
        _key, token = _create()
    with schema_context(other_city.schema_name):
        assert not ApiKey.objects.exists()
        assert api_key_authenticate(token, "127.0.0.1") == Refusal.UNKNOWN
        assert not AuditEvent.objects.filter(action__startswith="api_key.").exists()


def test_the_vendors_command_makes_a_key_as_the_system(city: Municipality, other_city: Municipality) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(
        "api_key_create",
        "ageo",
        "--name",
        "住民記録",
        "--scope",
        "slots:read",
        "--expires",
        "2099-03-31",
        stdout=out,
    )
    prefix_line, token = out.getvalue().splitlines()
    with schema_context(city.schema_name):
        key = ApiKey.objects.get()
        assert token.startswith(f"mdg_{key.prefix}_")
        assert prefix_line.startswith(key.prefix)
        assert key.scopes == ["slots:read"]
        assert key.expires_at is not None
        assert key.expires_at.date().isoformat() in ("2099-03-31", "2099-03-30")
        event = AuditEvent.objects.get(action="api_key.created")
        assert event.actor_kind == ActorKind.SYSTEM
        assert api_key_authenticate(token, "127.0.0.1") == key
    with schema_context(other_city.schema_name):
        assert not ApiKey.objects.exists()
