"""The console's city pages: thin views over console.cities.selectors and services."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from console.access import VendorRole, role_allows, vendor_view
from console.cities import selectors
from tenants.models import Municipality


def _city(request: HttpRequest, slug: str) -> Municipality:
    try:
        return selectors.city_get(request.actor, slug=slug)  # type: ignore[attr-defined]
    except Municipality.DoesNotExist:
        raise Http404 from None


@vendor_view(VendorRole.SUPPORT)
@require_safe
def city_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    query = request.GET.get("q", "").strip()[:50]
    page = selectors.city_page(request.actor, status=status, query=query, page=request.GET.get("page"))  # type: ignore[attr-defined]
    context = {
        "page": page,
        "status": status,
        "query": query,
        "statuses": Municipality.Status.choices,
        "can_create": role_allows(request.vendor_role, VendorRole.OPERATOR),  # type: ignore[attr-defined]
    }
    return render(request, "console/cities/list.html", context)


@vendor_view(VendorRole.SUPPORT)
@require_safe
def city_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return _detail(request, _city(request, slug))


def _detail(request: HttpRequest, city: Municipality, status: int = 200, **forms: object) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    context = {
        "city": city,
        "usage": selectors.city_usage(actor, municipality=city, now=timezone.now()),
        "domains": selectors.city_domains(actor, municipality=city),
        "settings": selectors.city_settings(actor, municipality=city),
        "can_operate": role_allows(request.vendor_role, VendorRole.OPERATOR),  # type: ignore[attr-defined]
        **forms,
    }
    return render(request, "console/cities/detail.html", context, status=status)


@vendor_view(VendorRole.OPERATOR)
@require_http_methods(["GET", "HEAD", "POST"])
def city_create_view(request: HttpRequest) -> HttpResponseBase:
    raise Http404


@vendor_view(VendorRole.OPERATOR)
@require_POST
def city_status_view(request: HttpRequest, slug: str) -> HttpResponseBase:
    raise Http404


@vendor_view(VendorRole.OPERATOR)
@require_POST
def domain_add_view(request: HttpRequest, slug: str) -> HttpResponseBase:
    raise Http404


@vendor_view(VendorRole.OPERATOR)
@require_POST
def domain_remove_view(request: HttpRequest, slug: str, domain_id: int) -> HttpResponseBase:
    raise Http404
