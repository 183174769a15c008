"""Staff pages of the security work: the staff home, allowed networks, policy, lockouts, logging out everywhere."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.security import lockout, services
from apps.security.forms_staff import NetworkForm, NetworkRemoveForm, PolicyForm
from apps.security.models import AllowedNetwork
from apps.security.network import client_ip
from apps.security.policy import policy_get
from apps.security.request_actor import request_actor
from apps.security.roles import MANAGE_SECURITY, require_permission, user_roles


@login_required
def staff_home(request: HttpRequest) -> HttpResponse:
    return render(
        request, "security/staff_home.html", {"roles": sorted(r.label for r in user_roles(request.user))}
    )


def _networks_page(
    request: HttpRequest, form: NetworkForm, status: int = 200, **extra: object
) -> HttpResponse:
    context = {"networks": AllowedNetwork.objects.all(), "form": form, "address": client_ip(request), **extra}
    return render(request, "security/networks.html", context, status=status)


@require_permission(MANAGE_SECURITY)
def networks(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _networks_page(request, NetworkForm())
    form = NetworkForm(request.POST)
    if form.is_valid():
        try:
            network = services.network_add(
                cidr=form.cleaned_data["cidr"],
                label=form.cleaned_data["label"],
                actor=request_actor(request),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("%(cidr)s を追加しました。") % {"cidr": network.cidr})
            return redirect("security:networks")
    return _networks_page(request, form, status=400)


@require_permission(MANAGE_SECURITY)
@require_POST
def network_remove(request: HttpRequest, network_id: int) -> HttpResponse:
    network = get_object_or_404(AllowedNetwork, pk=network_id)
    form = NetworkRemoveForm(request.POST)
    form.is_valid()
    try:
        services.network_remove(
            network_id=network.pk,
            actor=request_actor(request),
            confirm_self_exclusion=bool(form.cleaned_data.get("confirm_self_exclusion")),
        )
    except services.SelfExclusionError:
        return _networks_page(
            request, NetworkForm(), status=409, confirm_network=network, remove_form=NetworkRemoveForm()
        )
    messages.success(request, _("%(cidr)s を削除しました。") % {"cidr": network.cidr})
    return redirect("security:networks")


@require_permission(MANAGE_SECURITY)
def policy(request: HttpRequest) -> HttpResponse:
    current = policy_get()
    form = PolicyForm(request.POST or None, instance=current)
    if request.method == "POST":
        if form.is_valid():
            services.policy_update(actor=request_actor(request), values=form.cleaned_data)
            messages.success(request, _("セキュリティ方針を保存しました。"))
            return redirect("security:policy")
        return render(request, "security/policy.html", {"form": form}, status=400)
    return render(request, "security/policy.html", {"form": form})


@require_permission(MANAGE_SECURITY)
def locks(request: HttpRequest) -> HttpResponse:
    return render(request, "security/locks.html", {"locks": lockout.locks_active()})


@require_permission(MANAGE_SECURITY)
@require_POST
def lock_release(request: HttpRequest, lock_id: int) -> HttpResponse:
    lock = lockout.lock_release(lock_id=lock_id, actor=request_actor(request))
    messages.success(request, _("%(key)s のロックを解除しました。") % {"key": lock.key})
    return redirect("security:locks")


@login_required
@require_POST
def logout_everywhere(request: HttpRequest) -> HttpResponse:
    services.sessions_revoke(actor=request_actor(request))
    logout(request)
    messages.success(request, _("すべての端末からログアウトしました。"))
    return redirect("account_login")
