"""Supervisors' pages for the city's API keys: the list, create, rotate and revoke (issue 13).

The writes are the services' (apps/security/api_keys.py: permission check and audit row there). These pages add
two things around them:

- The second factor is asked again before each write, as for managing the second factor itself: the session must
  hold a second-factor reauthentication younger than ACCOUNT_REAUTHENTICATION_TIMEOUT
  (`session_recently_reauthenticated_mfa`), made on allauth's reauthentication page, which comes back here. The
  form pages show a link there instead of the form until then; a POST without it changes nothing (403).
- The token is shown once: the POST keeps it in the session and redirects; the result page takes it out of the
  session as it renders it (Cache-Control: no-store), so a reload or the back button shows it no more.

Refusals answer 4xx, so AuditWritesMiddleware adds no generic "request.write" row for a POST that wrote nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from allauth.account.adapter import get_adapter as get_account_adapter
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from apps.security.api_keys import (
    IssuedKey,
    api_key_create,
    api_key_revoke,
    api_key_rotate,
    expiry_warn_days,
)
from apps.security.forms_api_keys import ApiKeyCreateForm, ApiKeyRotateForm, default_expiry
from apps.security.mfa_session import session_recently_reauthenticated_mfa
from apps.security.models import ApiKey, ApiScope
from apps.security.policy import user_has_mfa
from apps.security.request_actor import request_actor
from apps.security.roles import MANAGE_SECURITY, require_permission

# The token between the POST that made it and the one page that shows it (popped there).
ISSUED_SESSION_KEY = "security_api_key_issued"


def _status(key: ApiKey, now: datetime, soon: timedelta) -> tuple[str, str]:
    """(css modifier, label) of a key's state."""
    if key.revoked_at is not None:
        return "revoked", _("失効")
    if key.expires_at is not None and key.expires_at <= now:
        return "expired", _("期限切れ")
    if key.expires_at is not None and key.expires_at <= now + soon:
        return "expiring", _("期限間近")
    return "active", _("有効")


def _scope_labels(key: ApiKey) -> list[tuple[str, str]]:
    labels = dict(ApiScope.choices)
    return [(scope, str(labels.get(scope, scope))) for scope in key.scopes]


def _second_factor(request: HttpRequest) -> dict[str, Any]:
    """What the page needs to know about the second factor: set up at all, re-entered recently, and where to
    re-enter it (allauth's reauthentication page, back to this page)."""
    user = request.user
    has_mfa = user_has_mfa(user)
    methods = get_account_adapter(request).get_reauthentication_methods(user)
    url = methods[0]["url"] if methods else reverse("mfa_reauthenticate")
    return {
        "has_mfa": has_mfa,
        "fresh": has_mfa and session_recently_reauthenticated_mfa(request, user),
        "reauthenticate_url": f"{url}?{urlencode({'next': request.path})}",
        "mfa_url": reverse("mfa_index"),
    }


def _second_factor_needed(request: HttpRequest, factor: dict[str, Any]) -> HttpResponse:
    """The answer to a write without a fresh second factor: nothing was done; the way to go on."""
    return render(request, "security/api_keys_reauthenticate.html", {"factor": factor}, status=403)


def _keep_for_showing(request: HttpRequest, issued: IssuedKey, *, rotated: bool) -> HttpResponse:
    request.session[ISSUED_SESSION_KEY] = {"key_id": issued.key.pk, "token": issued.token, "rotated": rotated}
    return redirect("security:api_key_issued")


@require_permission(MANAGE_SECURITY)
def api_keys(request: HttpRequest) -> HttpResponse:
    now, soon = timezone.now(), timedelta(days=expiry_warn_days())
    # Live keys first (PostgreSQL sorts NULL last by default), then the newest.
    order = (F("revoked_at").asc(nulls_first=True), "-created_at", "pk")
    keys = list(ApiKey.objects.select_related("created_by").order_by(*order))
    rows = [{"key": key, "status": _status(key, now, soon), "scopes": _scope_labels(key)} for key in keys]
    return render(request, "security/api_keys.html", {"rows": rows, "warn_days": expiry_warn_days()})


@require_permission(MANAGE_SECURITY)
def api_key_new(request: HttpRequest) -> HttpResponse:
    factor = _second_factor(request)
    if request.method != "POST":
        form = ApiKeyCreateForm(initial={"expires_on": default_expiry()})
        return render(request, "security/api_keys_new.html", {"form": form, "factor": factor})
    if not factor["fresh"]:
        return _second_factor_needed(request, factor)
    form = ApiKeyCreateForm(request.POST)
    if form.is_valid():
        try:
            issued = api_key_create(
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=form.expires_at,
                actor=request_actor(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _keep_for_showing(request, issued, rotated=False)
    return render(request, "security/api_keys_new.html", {"form": form, "factor": factor}, status=400)


@never_cache  # Cache-Control: no-store (and no-cache, private): the token must stay nowhere but on screen
@require_permission(MANAGE_SECURITY)
def api_key_issued(request: HttpRequest) -> HttpResponse:
    shown = request.session.pop(ISSUED_SESSION_KEY, None)
    key = ApiKey.objects.filter(pk=shown["key_id"]).first() if shown else None
    context = {
        "key": key,
        "token": shown["token"] if key is not None and shown else "",
        "rotated": bool(shown and shown.get("rotated")),
        "scopes": _scope_labels(key) if key is not None else [],
    }
    return render(request, "security/api_keys_issued.html", context)


@require_permission(MANAGE_SECURITY)
def api_key_rotate_page(request: HttpRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=key_id)
    factor = _second_factor(request)
    context: dict[str, Any] = {"key": key, "factor": factor}
    if key.revoked_at is not None:
        context["form"] = None
        return render(request, "security/api_keys_rotate.html", context, status=409)
    if request.method != "POST":
        context["form"] = ApiKeyRotateForm(initial={"expires_on": default_expiry()})
        return render(request, "security/api_keys_rotate.html", context)
    if not factor["fresh"]:
        return _second_factor_needed(request, factor)
    form = ApiKeyRotateForm(request.POST)
    context["form"] = form
    if form.is_valid():
        try:
            issued = api_key_rotate(key_id=key.pk, expires_at=form.expires_at, actor=request_actor(request))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _keep_for_showing(request, issued, rotated=True)
    return render(request, "security/api_keys_rotate.html", context, status=400)


@require_permission(MANAGE_SECURITY)
def api_key_revoke_page(request: HttpRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=key_id)
    factor = _second_factor(request)
    context = {"key": key, "factor": factor}
    if key.revoked_at is not None:  # already revoked: nothing to confirm, nothing to record
        return render(request, "security/api_keys_revoke.html", context, status=409)
    if request.method != "POST":
        return render(request, "security/api_keys_revoke.html", context)
    if not factor["fresh"]:
        return _second_factor_needed(request, factor)
    api_key_revoke(key_id=key.pk, actor=request_actor(request))
    messages.success(
        request,
        _("APIキー「%(name)s」（%(prefix)s）を失効させました。このキーでの利用はできなくなりました。")
        % {"name": key.name, "prefix": key.prefix},
    )
    return redirect("security:api_keys")
