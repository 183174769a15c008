"""The city's side of support access: its supervisor grants, lists and ends; the vendor user enters by a ticket."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.security.network import address_allowed, client_ip, vendor_networks
from apps.security.request_actor import request_actor
from apps.security.roles import MANAGE_SECURITY, require_permission
from console.support import services
from console.support.forms import GrantForm
from console.support.middleware import GRANT_SESSION_KEY, READ_METHODS
from console.support.models import Scope, SupportGrant
from console.support.selectors import grant_uses, grants_of_city, support_candidates

# Where a support session starts, per scope.
LANDING = {Scope.BOOKING: "booking_staff:day", Scope.CARDS: "issuance_cards:list"}


def _page(request: HttpRequest, form: GrantForm, status: int = 200) -> HttpResponse:
    now = timezone.now()
    grants = list(grants_of_city(municipality_id=request.tenant.pk)[:100])  # type: ignore[attr-defined]
    uses = grant_uses([grant.pk for grant in grants])
    rows = [(grant, grant.is_active(now), uses[grant.pk]) for grant in grants]
    return render(request, "console_support/city_grants.html", {"form": form, "rows": rows}, status=status)


@require_permission(MANAGE_SECURITY)
def grants(request: HttpRequest) -> HttpResponse:
    candidates = support_candidates()
    if request.method != "POST":
        return _page(request, GrantForm(candidates=candidates))
    form = GrantForm(request.POST, candidates=candidates)
    if form.is_valid():
        try:
            grant = services.grant_create(
                actor=request_actor(request),
                municipality=request.tenant,  # type: ignore[attr-defined]
                grantee_id=form.cleaned_data["grantee"],
                scope=form.cleaned_data["scope"],
                reason=form.cleaned_data["reason"],
                duration=form.duration_delta,
                now=timezone.now(),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                _("%(user)s にサポートアクセスを許可しました（%(end)s まで）。")
                % {"user": grant.grantee_username, "end": f"{timezone.localtime(grant.ends_at):%H:%M}"},
            )
            return redirect("support_city:grants")
    return _page(request, form, status=400)


@require_permission(MANAGE_SECURITY)
@require_POST
def grant_end(request: HttpRequest, grant_id: int) -> HttpResponse:
    try:
        grant = services.grant_end(
            actor=request_actor(request),
            municipality=request.tenant,  # type: ignore[attr-defined]
            grant_id=grant_id,
            now=timezone.now(),
        )
    except SupportGrant.DoesNotExist as exc:
        raise Http404 from exc
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("support_city:grants")
    messages.success(
        request, _("%(user)s へのサポートアクセスを終了しました。") % {"user": grant.grantee_username}
    )
    return redirect("support_city:grants")


def _refused(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "console_support/entry_refused.html", {"message": message}, status=403)


def enter(request: HttpRequest, token: str) -> HttpResponse:
    """The console's redirect lands here: from the vendor's networks only, a ticket spent at once, then a session
    as the city's stand-in for the vendor user. Every refusal is a 403 that says why, never the login page."""
    if request.method not in READ_METHODS:
        return _refused(request, _("このリンクは開くだけで使います。"))
    if not address_allowed(client_ip(request), vendor_networks()):
        return _refused(request, _("このリンクは運営事業者のネットワークからのみ使えます。"))
    actor = request_actor(request)
    try:
        grant = services.ticket_consume(
            actor=actor,
            token=token,
            municipality_id=request.tenant.pk,  # type: ignore[attr-defined]
            now=timezone.now(),
        )
        user = services.proxy_user_for(actor=actor, grant=grant)
    except services.EntryRefusedError:
        return _refused(
            request,
            _(
                "このリンクは使えません（使用済み、期限切れ、または別の自治体のもの）。管理コンソールから入り直してください。"
            ),
        )
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[GRANT_SESSION_KEY] = grant.pk
    services.support_entered(actor=request_actor(request), grant=grant)  # the banner says so on every page
    return redirect(LANDING[Scope(grant.scope)])
