"""The console's city pages: thin views over console.cities.selectors and services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from console.access import VendorRole, role_allows, vendor_view
from console.cities import selectors, services
from console.cities.forms import CityCreateForm, CityStatusForm, DomainForm
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
    # A NUL cannot reach PostgreSQL in a text: no city's name holds one, so it only ever narrows to nothing.
    query = request.GET.get("q", "").replace("\x00", "").strip()[:50]
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
        "status_form": CityStatusForm(),
        "domain_form": DomainForm(initial={"kind": "resident"}),
        **forms,
    }
    return render(request, "console/cities/detail.html", context, status=status)


@vendor_view(VendorRole.OPERATOR)
@require_http_methods(["GET", "HEAD", "POST"])
def city_create_view(request: HttpRequest) -> HttpResponseBase:
    form = CityCreateForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                city = services.city_create(request.actor, form.to_input())  # type: ignore[attr-defined]
            except ValidationError as exc:
                form.add_errors(exc)
            else:
                messages.success(
                    request,
                    _("%(name)s を登録し、管理者に招待メールを送りました。") % {"name": city.name_ja},
                )
                return redirect("console:cities:detail", slug=city.slug)
        return render(request, "console/cities/create.html", {"form": form}, status=400)
    return render(request, "console/cities/create.html", {"form": form})


@vendor_view(VendorRole.OPERATOR)
@require_POST
def city_status_view(request: HttpRequest, slug: str) -> HttpResponseBase:
    city = _city(request, slug)
    form = CityStatusForm(request.POST)
    if form.is_valid():
        try:
            services.city_set_status(
                request.actor,  # type: ignore[attr-defined]
                municipality=city,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(
                request, _("状態を「%(status)s」にしました。") % {"status": city.get_status_display()}
            )
            return redirect("console:cities:detail", slug=city.slug)
    return _detail(request, city, status=400, status_form=form)


@vendor_view(VendorRole.OPERATOR)
@require_POST
def domain_add_view(request: HttpRequest, slug: str) -> HttpResponseBase:
    city = _city(request, slug)
    form = DomainForm(request.POST)
    if form.is_valid():
        try:
            domain = services.domain_add(
                request.actor,  # type: ignore[attr-defined]
                municipality=city,
                host=form.cleaned_data["host"],
                kind=form.cleaned_data["kind"],
            )
        except ValidationError as exc:
            form.add_error("host", exc.messages)
        else:
            messages.success(request, _("ホスト %(host)s を追加しました。") % {"host": domain.domain})
            return redirect("console:cities:detail", slug=city.slug)
    return _detail(request, city, status=400, domain_form=form)


@vendor_view(VendorRole.OPERATOR)
@require_POST
def domain_remove_view(request: HttpRequest, slug: str, domain_id: int) -> HttpResponseBase:
    city = _city(request, slug)
    try:
        services.domain_remove(request.actor, municipality=city, domain_id=domain_id)  # type: ignore[attr-defined]
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _detail(request, city, status=400)
    messages.success(request, _("ホストを削除しました。"))
    return redirect("console:cities:detail", slug=city.slug)
