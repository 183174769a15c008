"""Request-scoped context for logs: a request id (taken from a trusted proxy or made here) and the user."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.security.network import peer_is_trusted_proxy
from base.log_context import request_id_var, tenant_var, user_var

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _incoming_request_id(request: HttpRequest) -> str | None:
    """The id our own proxy gave the request (nginx's $request_id), or None.

    Only a trusted proxy's header is taken: from anyone else an X-Request-ID is attacker-chosen text that would
    reach the logs and the audit log, where it could impersonate another request's trail. And only a well-formed
    id: a header value must never inject into logs or response headers."""
    incoming = request.META.get("HTTP_X_REQUEST_ID", "")
    if incoming and _SAFE_REQUEST_ID.match(incoming) and peer_is_trusted_proxy(request):
        return str(incoming)
    return None


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _incoming_request_id(request) or uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        tokens = (request_id_var.set(request_id), tenant_var.set("-"), user_var.set("-"))
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(tokens[0])
            tenant_var.reset(tokens[1])
            user_var.reset(tokens[2])
        response["X-Request-ID"] = request_id
        return response


class LogContextUserMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            # The user's id, not the name: a log line must not carry personal data.
            user_var.set(str(user.pk))
        return self.get_response(request)
