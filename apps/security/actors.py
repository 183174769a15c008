"""Who acted and from where: the one value every service, audited selector and the audit log take.

An `Actor` is built once at the edge: per request by `apps.security.request_actor.request_actor` (a signed-in
staff member or vendor operator, or an anonymous visitor, with the client address and the request id), per task or
command as `SYSTEM` (or `Actor.system("name")`), and, with the REST API, per API key. Services check permissions
with `actor.has_perm` (through `roles.ensure_permission`) and hand the actor to `audit_record`, which takes the
address and the request id from it. Nothing below the views needs the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from apps.security.audit_models import ActorKind
from base.log_context import request_id_var
from tenants.db import current_schema


def _current_request_id() -> str:
    value = request_id_var.get()
    return "" if value == "-" else value[:64]


@dataclass(frozen=True)
class Actor:
    """Who (kind, name, id; the user object for permission checks) and where (client address, request id)."""

    kind: ActorKind
    username: str = ""
    id: int | None = None
    address: str = ""
    request_id: str = ""
    # The signed-in user behind a staff or vendor actor (None for the system, a resident, an anonymous visitor).
    user: Any = field(default=None, compare=False, repr=False, hash=False)
    # An API key's scopes (kind API_KEY only): what the key may do, through api_auth.scope_grants.
    scopes: tuple[str, ...] = field(default=(), compare=False, hash=False)
    # The key's visible prefix (kind API_KEY only): names the key to a task that acts for it later.
    api_key_prefix: str | None = None

    @classmethod
    def of_user(cls, user: Any, *, address: str = "", request_id: str | None = None) -> Actor:
        """A signed-in user in the current schema: vendor staff on the public schema, a city's staff elsewhere.
        A user who is not signed in (AnonymousUser) is an anonymous visitor."""
        rid = _current_request_id() if request_id is None else request_id
        if not getattr(user, "is_authenticated", False):
            return cls(kind=ActorKind.ANONYMOUS, address=address, request_id=rid)
        kind = ActorKind.VENDOR if current_schema() == "public" else ActorKind.STAFF
        return cls(
            kind=kind, username=user.get_username(), id=user.pk, address=address, request_id=rid, user=user
        )

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        """A task or a command: no user, no address; the request id is the task's log context, if any."""
        return cls(kind=ActorKind.SYSTEM, username=name, request_id=_current_request_id())

    @classmethod
    def resident(cls, *, address: str = "", request_id: str | None = None) -> Actor:
        rid = _current_request_id() if request_id is None else request_id
        return cls(kind=ActorKind.RESIDENT, address=address, request_id=rid)

    @classmethod
    def of_api_key(cls, key: Any, *, address: str = "", request_id: str | None = None) -> Actor:
        """A city's own system calling the REST API with `key` (an `ApiKey`): no user; `has_perm` is what the key's
        scopes stand for (apps.security.api_auth.scope_grants), never a configuration or security permission."""
        rid = _current_request_id() if request_id is None else request_id
        return cls(
            kind=ActorKind.API_KEY,
            username=f"api:{key.prefix} {key.name}"[:150],
            address=address,
            request_id=rid,
            scopes=tuple(str(scope) for scope in key.scopes),
            api_key_prefix=key.prefix,
        )

    def as_resident(self) -> Actor:
        """The same visitor (address, request id) acting as a resident on a resident page."""
        return replace(self, kind=ActorKind.RESIDENT, username="", id=None, user=None)

    @property
    def is_authenticated(self) -> bool:
        return bool(getattr(self.user, "is_authenticated", False))

    def has_perm(self, permission: str) -> bool:
        if self.kind == ActorKind.API_KEY:
            # A key has no user: its scopes stand for some staff permissions (scope_grants refuses NEVER_FOR_KEYS).
            # Imported here: api_auth builds on this module.
            from apps.security.api_auth import scope_grants

            return scope_grants(self.scopes, permission)
        return self.is_authenticated and bool(self.user.has_perm(permission))

    def get_username(self) -> str:
        return self.username


SYSTEM = Actor(kind=ActorKind.SYSTEM, username="system")


def as_actor(value: Actor | Any | None) -> Actor:
    """An `Actor` for `value`: itself, a signed-in user (tests, shells, commands that act as someone), or the
    system for None."""
    if isinstance(value, Actor):
        return value
    if value is None:
        return Actor.system()
    return Actor.of_user(value)
