"""Every write by a signed-in user reaches the audit log, even where no service recorded it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.security.audit import audit_record, audit_written, audit_written_reset, audit_written_restore
from apps.security.request_actor import request_actor

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AuditWritesMiddleware:
    """After a successful POST/PUT/PATCH/DELETE by a signed-in user, record "request.write" unless a service
    already recorded the request (it says what changed better than a path can).

    Only the method, path and view name are kept: a request body or a query may hold personal data or a password.
    Goes after AuthenticationMiddleware (and after the staff session middleware, whose refusals write nothing).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = audit_written_reset()
        try:
            response = self.get_response(request)
            written = audit_written()
        finally:
            audit_written_restore(token)
        match = request.resolver_match  # None when a middleware answered (a redirect to MFA): no view ran
        if (
            match is not None
            and request.method in WRITE_METHODS
            and response.status_code < 400
            and not written
            and getattr(getattr(request, "user", None), "is_authenticated", False)
        ):
            audit_record(
                action="request.write",
                actor=request_actor(request),
                target=request.path,
                summary=f"{request.method} {request.path} ({match.view_name})",
            )
        return response
