"""Route each request to its city's schema by host; explain unknown and suspended hosts instead of failing.

Host → city comes from the process's map (tenants.routing), not from a query per request: a warm request runs no
query here at all, and the map is at most `TENANT_ROUTES_POLL_SECONDS` (1 s) behind a write in another process.
"""

from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.http.request import split_domain_port
from django.shortcuts import render
from django.utils import translation
from django_tenants.middleware.main import TenantMainMiddleware

from base.log_context import tenant_var
from base.problems import problem_response
from tenants.routing import ROUTES

# Retry-After of a suspended city's API: a suspension has no announced end; clients look again in an hour.
SUSPENDED_RETRY_AFTER = 3600
# Liveness must answer whatever the host (load balancers probe by address).
HOSTLESS_PATHS = ("/healthz", "/readyz")


class MunicipalityMiddleware(TenantMainMiddleware):
    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if request.path in HOSTLESS_PATHS:
            request.urlconf = "madoguchi.urls_health"
            return None
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return HttpResponseNotFound()
        tenant = ROUTES.tenant_for(hostname)
        if tenant is None:
            connection.set_schema_to_public()  # type: ignore[attr-defined]
            return self.no_tenant_found(request, hostname)
        request.tenant = tenant  # type: ignore[attr-defined]
        # Switched only when the connection is not already on this city (the map's own instance, left there by
        # this connection's last request): set_tenant forgets the search_path it set, so with
        # TENANT_LIMIT_SET_CALLS a kept connection would otherwise set it again on every request.
        same_city = getattr(connection, "tenant", None) is tenant
        if not same_city:
            connection.set_tenant(tenant)  # type: ignore[attr-defined]
        self.setup_url_routing(request)
        tenant_var.set(tenant.schema_name)
        if not tenant.is_public and not tenant.is_active:
            if request.path.startswith("/api/"):
                return self._problem(request, "city_suspended")
            return self._page(request, "errors/suspended.html", 503, {"city": tenant})
        return None

    @staticmethod
    def hostname_from_request(request: HttpRequest) -> str:
        # The stock middleware strips "www.", but a city's own host may be www.city.<name>.lg.jp.
        return split_domain_port(request.get_host())[0]

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        return self._page(request, "errors/unknown_host.html", 404, {"hostname": hostname})

    @staticmethod
    def _problem(request: HttpRequest, code: str) -> HttpResponse:
        # The API's own answer (problem+json), in the language the client asks for; a suspension has no known end.
        translation.activate(translation.get_language_from_request(request))
        return problem_response(
            code, instance=request.path, headers={"Retry-After": str(SUSPENDED_RETRY_AFTER)}
        )

    @staticmethod
    def _page(request: HttpRequest, template: str, status: int, context: dict[str, object]) -> HttpResponse:
        # Runs before LocaleMiddleware: pick the language from the browser so the page is readable.
        translation.activate(translation.get_language_from_request(request))
        return render(request, template, context, status=status)
