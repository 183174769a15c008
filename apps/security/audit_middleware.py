"""Every write by a signed-in user reaches the audit log, even where no service recorded it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.security.audit import audit_record

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
        response = self.get_response(request)
        match = request.resolver_match  # None when a middleware answered (a redirect to MFA): no view ran
        if (
            match is not None
            and request.method in WRITE_METHODS
            and response.status_code < 400
            and not getattr(request, "_audited", False)
            and getattr(getattr(request, "user", None), "is_authenticated", False)
        ):
            audit_record(
                action="request.write",
                request=request,
                target=request.path,
                summary=f"{request.method} {request.path} ({match.view_name})",
            )
        return response
