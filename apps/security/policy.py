"""The city's security policy and who needs a second factor."""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from django.core.cache import cache

from apps.security.models import SecurityPolicy
from apps.security.roles import ALWAYS_MFA, user_roles
from tenants.db import current_schema

_POLICY_CACHE_KEY = "security:policy"


def policy_get() -> SecurityPolicy:
    """The current schema's policy (cached briefly; tenant-prefixed key). The vendor gets the defaults."""
    policy: SecurityPolicy | None = cache.get(_POLICY_CACHE_KEY)
    if policy is None:
        policy = SecurityPolicy.objects.filter(pk=1).first() or SecurityPolicy(pk=1)
        cache.set(_POLICY_CACHE_KEY, policy, 60)
    return policy


def forget_policy() -> None:
    cache.delete(_POLICY_CACHE_KEY)


def mfa_required(user: Any, policy: SecurityPolicy) -> bool:
    if current_schema() == "public":
        return True  # the vendor's staff: always
    roles = user_roles(user)
    if roles & ALWAYS_MFA:
        return True
    return policy.mfa_required_for_staff


def user_has_mfa(user: Any) -> bool:
    """A TOTP or a security key counts; recovery codes alone are only a fallback."""
    return Authenticator.objects.filter(
        user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
    ).exists()
