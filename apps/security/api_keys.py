"""API keys: create, rotate, revoke (supervisors, audited) and the check made on every API request.

A token is `mdg_<prefix>_<secret>`: the prefix (8 lowercase letters and digits) is visible and names the key in
lists and the audit log; the secret (`secrets.token_urlsafe(32)`) is shown once and only its
HMAC-SHA256(settings.API_KEY_PEPPER, secret) is stored. A keyed hash, not a password hash: a key is checked on
every request, and 256 random bits need no stretching; the pepper lives outside the database, so a copy of the
table alone verifies nothing. Keys are rows of the city's schema: a key of another city is an unknown prefix here.
"""

from __future__ import annotations

import hmac
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from hashlib import sha256

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.security.actors import Actor
from apps.security.audit import audit_record
from apps.security.audit_models import ActorKind
from apps.security.models import ApiKey, ApiScope
from apps.security.mynumber import validate_no_individual_number
from apps.security.roles import MANAGE_SECURITY, ensure_permission

TOKEN_PREFIX = "mdg"  # noqa: S105 (the visible start of every token, no secret)
PREFIX_LENGTH = 8
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
# Last use is written at most this often per key: no write per request.
LAST_USE_RESOLUTION = timedelta(seconds=60)
# Days before its expiry a key counts as "expiring soon": badge on the staff page, mail to the supervisors.
DEFAULT_EXPIRY_WARN_DAYS = 14
# Compared against when the prefix is unknown, so an unknown and a wrong key take the same work.
_NO_HASH = "0" * 64


class Refusal(StrEnum):
    """Why a token was refused; each is its own 401 problem code (`api_key_<value>`)."""

    MISSING = "missing"
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"

    @property
    def code(self) -> str:
        return f"api_key_{self.value}"


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str  # shown once, never stored


def expiry_warn_days() -> int:
    """settings.API_KEY_EXPIRY_WARN_DAYS, else DEFAULT_EXPIRY_WARN_DAYS."""
    return int(getattr(settings, "API_KEY_EXPIRY_WARN_DAYS", DEFAULT_EXPIRY_WARN_DAYS))


def secret_hash(secret: str, pepper: str | None = None) -> str:
    """HMAC-SHA256(pepper, secret); the pepper is settings.API_KEY_PEPPER unless given."""
    key = str(settings.API_KEY_PEPPER if pepper is None else pepper)
    return hmac.new(key.encode(), secret.encode(), sha256).hexdigest()


def _fallback_peppers() -> tuple[str, ...]:
    """settings.API_KEY_PEPPER_FALLBACKS: the peppers a rotation retires (docs/operations.md, "Rotate secrets")."""
    return tuple(str(p) for p in getattr(settings, "API_KEY_PEPPER_FALLBACKS", ()) if p)


def _hash_matches(secret: str, stored: str) -> tuple[bool, bool]:
    """(matches, under a retired pepper). Every pepper is tried whatever matched, so the work is the same for a
    right, a wrong and an unknown key."""
    current = hmac.compare_digest(secret_hash(secret), stored)
    retired = False
    for pepper in _fallback_peppers():
        retired |= hmac.compare_digest(secret_hash(secret, pepper), stored)
    return current or retired, retired and not current


def _new_prefix() -> str:
    while True:
        prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
        if not ApiKey.objects.filter(prefix=prefix).exists():
            return prefix


def _token(prefix: str, secret: str) -> str:
    return f"{TOKEN_PREFIX}_{prefix}_{secret}"


def parse_token(token: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed token, else None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    prefix, secret = parts[1], parts[2]
    if len(prefix) != PREFIX_LENGTH or any(c not in _PREFIX_ALPHABET for c in prefix):
        return None
    if not 20 <= len(secret) <= 100 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in secret):
        return None
    return prefix, secret


def _scopes(scopes: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(scopes))
    known = set(ApiScope.values)
    unknown = [scope for scope in chosen if scope not in known]
    if unknown or not chosen:
        raise ValidationError(
            _("権限を1つ以上、次から選んでください: %(scopes)s") % {"scopes": ", ".join(ApiScope.values)},
            code="scopes",
        )
    return [scope for scope in ApiScope.values if scope in chosen]


def _ensure_may_manage_keys(actor: Actor) -> None:
    # The vendor's command (the system) makes a key on the city's written request, as it adds a first network.
    if actor.kind != ActorKind.SYSTEM:
        ensure_permission(actor, MANAGE_SECURITY)


def api_key_create(
    *, name: str, scopes: Iterable[str], expires_at: datetime | None, actor: Actor
) -> IssuedKey:
    """A new key (supervisors: MANAGE_SECURITY; or the system). The token is returned here once and never again."""
    _ensure_may_manage_keys(actor)
    name = name.strip()
    if not name:
        raise ValidationError(_("名称を入力してください。"), code="name")
    validate_no_individual_number(name)
    chosen = _scopes(scopes)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError(_("有効期限は未来の日時にしてください。"), code="expires_at")
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name[:100],
            prefix=_new_prefix(),
            secret_hash=secret_hash(secret),
            scopes=chosen,
            expires_at=expires_at,
            created_by=actor.user,
        )
        audit_record(
            action="api_key.created",
            actor=actor,
            target=f"api_key:{key.prefix}",
            summary=_("APIキー「%(name)s」（%(prefix)s）を作成しました。権限: %(scopes)s")
            % {"name": key.name, "prefix": key.prefix, "scopes": ", ".join(chosen)},
            after={"name": key.name, "prefix": key.prefix, "scopes": chosen, "expires_at": _iso(expires_at)},
        )
    return IssuedKey(key=key, token=_token(key.prefix, secret))


def api_key_rotate(*, key_id: int, actor: Actor, expires_at: datetime | None = None) -> IssuedKey:
    """A new secret for the same key (same prefix, name, scopes): the old token stops at once.

    `expires_at` given: the key's new expiry (None keeps the current one). A new expiry clears
    `expiry_warned_at`, so the mail before expiry goes again for the new date, once."""
    _ensure_may_manage_keys(actor)
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise ValidationError(_("有効期限は未来の日時にしてください。"), code="expires_at")
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key_id)
        if key.revoked_at is not None:
            raise ValidationError(_("失効したAPIキーは再発行できません。"), code="revoked")
        before_expiry = key.expires_at
        key.secret_hash = secret_hash(secret)
        key.rotated_at = now
        fields = ["secret_hash", "rotated_at"]
        if expires_at is not None and expires_at != before_expiry:
            key.expires_at, key.expiry_warned_at = expires_at, None
            fields += ["expires_at", "expiry_warned_at"]
        key.save(update_fields=fields)
        audit_record(
            action="api_key.rotated",
            actor=actor,
            target=f"api_key:{key.prefix}",
            summary=_("APIキー「%(name)s」（%(prefix)s）を再発行しました。以前のキーは使えません。")
            % {"name": key.name, "prefix": key.prefix},
            before={"expires_at": _iso(before_expiry)},
            after={"expires_at": _iso(key.expires_at)},
        )
    return IssuedKey(key=key, token=_token(key.prefix, secret))


def api_key_revoke(*, key_id: int, actor: Actor) -> ApiKey:
    """Stop a key for good (idempotent: a second revoke changes and records nothing)."""
    _ensure_may_manage_keys(actor)
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key_id)
        if key.revoked_at is not None:
            return key
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(
            action="api_key.revoked",
            actor=actor,
            target=f"api_key:{key.prefix}",
            summary=_("APIキー「%(name)s」（%(prefix)s）を失効させました。")
            % {"name": key.name, "prefix": key.prefix},
        )
    return key


def api_key_authenticate(token: str, address: str, *, now: datetime | None = None) -> ApiKey | Refusal:
    """The key a token names in this city, or why it is refused. The secret is compared in constant time (also
    when the prefix is unknown); last use (time and address) is written at most once a minute per key."""
    if not token:
        return Refusal.MISSING
    parsed = parse_token(token)
    if parsed is None:
        return Refusal.MALFORMED
    prefix, secret = parsed
    key = ApiKey.objects.filter(prefix=prefix).first()
    matches, retired = _hash_matches(secret, key.secret_hash if key else _NO_HASH)
    if key is None or not matches:
        return Refusal.UNKNOWN
    if retired:
        # Stored under a pepper being retired: store it under the current one (conditional: parallel requests
        # write once), so the key keeps working once the old pepper is removed.
        rehashed = secret_hash(secret)
        ApiKey.objects.filter(pk=key.pk, secret_hash=key.secret_hash).update(secret_hash=rehashed)
        key.secret_hash = rehashed
    now = now or timezone.now()
    if key.revoked_at is not None:
        return Refusal.REVOKED
    if key.expires_at is not None and key.expires_at <= now:
        return Refusal.EXPIRED
    _record_use(key, address[:45], now)
    return key


def _record_use(key: ApiKey, address: str, now: datetime) -> None:
    if key.last_used_at is not None and now - key.last_used_at < LAST_USE_RESOLUTION:
        return
    # Conditional: of parallel requests only one writes.
    ApiKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USE_RESOLUTION)
    ).update(last_used_at=now, last_used_address=address)
    key.last_used_at, key.last_used_address = now, address


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
