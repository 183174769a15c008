"""Response headers for every response, including those made before the URLconf runs.

Django's XFrameOptionsMiddleware sits at the end of MIDDLEWARE, so responses made earlier (static files from
WhiteNoise, the tenant middleware's unknown-host and suspended pages) never pass it. This middleware runs near the
top and adds what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware


def permissions_policy_header(policy: Mapping[str, Sequence[str]]) -> str:
    """`camera=(), publickey-credentials-get=(self)`: origins other than `self` and `*` are quoted."""

    def origin(value: str) -> str:
        return value if value in ("self", "*") else f'"{value}"'

    return ", ".join(f"{feature}=({' '.join(origin(v) for v in allow)})" for feature, allow in policy.items())


# Staff, account and console pages show residents' personal data or account secrets (recovery codes): no browser,
# proxy or back-button cache may keep a copy on a shared counter PC.
NO_STORE_PREFIXES = ("/staff/", "/accounts/", "/console/", "/api/")


class SecurityHeadersMiddleware(XFrameOptionsMiddleware):
    """Permissions-Policy (settings.PERMISSIONS_POLICY), X-Frame-Options where no later middleware set it, and
    `Cache-Control: no-store` on every staff, account and console response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        super().__init__(get_response)
        self.permissions_policy = permissions_policy_header(getattr(settings, "PERMISSIONS_POLICY", {}))

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        # Keeps a view's @xframe_options_exempt and any header already set.
        response = super().process_response(request, response)
        if self.permissions_policy:
            response.headers.setdefault("Permissions-Policy", self.permissions_policy)
        if request.path.startswith(NO_STORE_PREFIXES):
            response.headers["Cache-Control"] = "no-store"
        return response
