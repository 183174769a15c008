"""An API-key actor holds the staff permissions its scopes stand for (api_auth.scope_grants), through
`Actor.has_perm` and the services' `ensure_permission`; configuration and security permissions never."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from apps.security.actors import Actor, as_actor
from apps.security.api_auth import NEVER_FOR_KEYS
from apps.security.api_keys import api_key_create
from apps.security.models import ApiKey, ApiScope
from apps.security.roles import (
    ISSUE_CARDS,
    MANAGE_CARDS,
    VIEW_REPORTS,
    WORK_COUNTER,
    ensure_permission,
)
from tenants.models import Municipality
from tests.factories import supervisor_user


def _key(*scopes: str) -> ApiKey:
    return api_key_create(
        name="連携システム", scopes=scopes, expires_at=None, actor=as_actor(supervisor_user())
    ).key


def test_a_keys_scopes_grant_the_permissions_they_stand_for(in_city: Municipality) -> None:
    cards = Actor.of_api_key(_key(ApiScope.CARDS_WRITE))
    assert cards.has_perm(MANAGE_CARDS)
    assert cards.has_perm(ISSUE_CARDS)
    assert not cards.has_perm(WORK_COUNTER)
    assert not cards.has_perm(VIEW_REPORTS)
    ensure_permission(cards, MANAGE_CARDS)
    with pytest.raises(PermissionDenied):
        ensure_permission(cards, WORK_COUNTER)

    booking = Actor.of_api_key(_key(ApiScope.RESERVATIONS_WRITE))
    assert booking.has_perm(WORK_COUNTER)
    ensure_permission(booking, WORK_COUNTER)
    with pytest.raises(PermissionDenied):
        ensure_permission(booking, MANAGE_CARDS)


def test_read_scopes_grant_no_write_permission(in_city: Municipality) -> None:
    reader = Actor.of_api_key(_key(ApiScope.CARDS_READ, ApiScope.RESERVATIONS_READ, ApiScope.SLOTS_READ))
    for permission in (MANAGE_CARDS, ISSUE_CARDS, WORK_COUNTER, VIEW_REPORTS):
        assert not reader.has_perm(permission)
        with pytest.raises(PermissionDenied):
            ensure_permission(reader, permission)


@pytest.mark.parametrize("permission", sorted(NEVER_FOR_KEYS))
def test_a_key_with_every_scope_never_holds_configuration_or_security(
    in_city: Municipality, permission: str
) -> None:
    everything = Actor.of_api_key(_key(*ApiScope.values))
    assert not everything.has_perm(permission)
    with pytest.raises(PermissionDenied):
        ensure_permission(everything, permission)


def test_staff_and_the_system_are_checked_as_before(in_city: Municipality) -> None:
    supervisor = as_actor(supervisor_user())
    ensure_permission(supervisor, MANAGE_CARDS)
    ensure_permission(supervisor.user, MANAGE_CARDS)
    with pytest.raises(PermissionDenied):
        ensure_permission(Actor.system(), MANAGE_CARDS)
    # Scopes on an actor that is not a key's count for nothing.
    forged = Actor.system()
    object.__setattr__(forged, "scopes", tuple(ApiScope.values))
    assert not forged.has_perm(MANAGE_CARDS)
