"""The console's side of support access: the vendor user's grants, and entering a city under one."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from console.access import VendorRole, vendor_view
from console.support import services
from console.support.models import SupportGrant
from console.support.selectors import grant_uses, grants_to_vendor_user
from tenants.models import Domain
from tenants.selectors import domain_list


@vendor_view(VendorRole.SUPPORT)
def grants(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rows = list(grants_to_vendor_user(vendor_user_id=int(request.user.pk or 0))[:100])
    uses = grant_uses([grant.pk for grant in rows])
    listed = [(grant, grant.is_active(now), uses[grant.pk]) for grant in rows]
    response = render(request, "console_support/console_grants.html", {"rows": listed})
    # "Enter" posts to the console and is redirected to the city's host: browsers apply form-action to that
    # redirect too, so the page's policy names the hosts of the grants it offers to enter.
    # One host look-up per city, however many grants it made.
    cities = {grant.municipality_id: grant for grant, active, _uses in listed if active}
    origins = sorted({_city_origin(request, grant) for grant in cities.values()} - {""})
    if origins:
        response._csp_update = {"form-action": origins}  # type: ignore[attr-defined]
    return response


def _city_origin(request: HttpRequest, grant: SupportGrant) -> str:
    """The city's staff host with this request's scheme and port (the vendor's host and the cities' share them: one
    wildcard certificate, one server); empty if the city has no host."""
    domains = list(domain_list(municipality=grant.municipality))
    staff = [d for d in domains if d.kind == Domain.Kind.STAFF] or domains
    if not staff:
        return ""
    port = request.get_port()
    default = "443" if request.is_secure() else "80"
    netloc = staff[0].domain if port in ("", default) else f"{staff[0].domain}:{port}"
    return f"{request.scheme}://{netloc}"


def _city_url(request: HttpRequest, grant: SupportGrant, path: str) -> str:
    """`path` on the city's staff host (see `_city_origin`)."""
    origin = _city_origin(request, grant)
    if not origin:
        raise Http404
    return f"{origin}{path}"


@vendor_view(VendorRole.SUPPORT)
@require_POST
def enter(request: HttpRequest, grant_id: int) -> HttpResponse:
    try:
        token, grant = services.ticket_issue(actor=request.actor, grant_id=grant_id, now=timezone.now())  # type: ignore[attr-defined]
    except SupportGrant.DoesNotExist as exc:
        raise Http404 from exc
    return HttpResponseRedirect(
        _city_url(
            request, grant, reverse("support_city:enter", args=[token], urlconf="madoguchi.urls_tenant")
        )
    )
