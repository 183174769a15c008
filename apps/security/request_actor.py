"""The actor of one request, built once at the edge and handed to services (`apps.security.actors`)."""

from __future__ import annotations

from django.http import HttpRequest

from apps.security.actors import Actor
from apps.security.network import client_ip


def request_actor(request: HttpRequest) -> Actor:
    """The request's user (or an anonymous visitor) with the client address and the request id.

    Cached on the request for as long as its user stays the same (a login in the middle of a request makes a new one).
    """
    user = getattr(request, "user", None)
    cached = getattr(request, "_madoguchi_actor", None)
    if cached is not None and cached[0] is user:
        actor: Actor = cached[1]
        return actor
    request_id = str(getattr(request, "request_id", "") or "")[:64]
    actor = Actor.of_user(user, address=client_ip(request), request_id=request_id or None)
    request._madoguchi_actor = (user, actor)  # type: ignore[attr-defined]
    return actor


def resident_actor(request: HttpRequest) -> Actor:
    """The visitor of a resident page, acting as a resident whether or not a staff member is signed in."""
    return request_actor(request).as_resident()
