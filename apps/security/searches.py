"""Staff searches sent by POST and shown at an opaque id, so what was searched for never reaches a URL.

A search's terms are personal data (a name in kana, a notice number, a booking code) and may be a 個人番号 typed
by mistake. In a URL they would stay in the web server's access log, the browser's history and any Referer. So a
search form is sent by POST; a valid search is kept in the staff member's session under a random id and the
browser is sent (303) to `?s=<id>`; that page binds the form to the kept terms again. The id means nothing
elsewhere: the session belongs to one login in one city's schema (django-tenants keeps sessions per schema), and
each kept search also records its city, user and scope, and expires.

A POST that the form refuses (a 個人番号 among them: `RefusesIndividualNumber`) is re-rendered with the message
(400) and never redirected. Pagination and CSV links keep `?s=` (`{% querystring page=… %}` does).

Usage in a view (one call; the view renders `step.form` and uses it when it is valid):

    step = searches.search_step(request, CardFilterForm, scope="issuance.cards")
    if step.redirect is not None:
        return step.redirect
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponseRedirect, QueryDict
from django.utils.translation import gettext as _

from tenants.db import current_schema

PARAM = "s"
SESSION_KEY = "madoguchi_searches"
LIFETIME_SECONDS = 8 * 3600  # a counter shift: a results page left open over lunch still pages on
KEPT = 50  # searches kept per session (the oldest go first)
MAX_VALUES = 20  # values kept per field (a multiple choice); a longer list is cut
MAX_VALUE_LENGTH = 1000  # the form's own max_length refuses longer text before this matters

F = TypeVar("F", bound=forms.BaseForm)


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


@dataclass
class SearchStep(Generic[F]):
    form: F
    redirect: HttpResponseRedirect | None = None  # a valid POST: go to its id
    search_id: str = ""  # the id the page shows (empty: no search yet)
    status: int = 200  # 400 for a refused POST


def _kept(request: HttpRequest) -> dict[str, Any]:
    kept = request.session.get(SESSION_KEY)
    return kept if isinstance(kept, dict) else {}


def _owner(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    return str(user.pk) if user is not None and user.is_authenticated else ""


def _fields_of(form: forms.BaseForm, data: QueryDict) -> dict[str, list[str]]:
    """The submitted values of the form's own fields (a MultiWidget's `name_0`, `name_1`… too); nothing else."""
    names = [form.add_prefix(name) for name in form.fields]
    terms: dict[str, list[str]] = {}
    for key in data:
        if any(
            key == name or (key.startswith(f"{name}_") and key[len(name) + 1 :].isdigit()) for name in names
        ):
            terms[key] = [value[:MAX_VALUE_LENGTH] for value in data.getlist(key)[:MAX_VALUES]]
    return terms


def search_save(request: HttpRequest, *, scope: str, terms: Mapping[str, Sequence[str]]) -> str:
    """Keep `terms` (field name → values) in the session; returns the new search's id."""
    now = int(time.time())
    kept = {
        key: entry
        for key, entry in _kept(request).items()
        if isinstance(entry, dict) and now - int(entry.get("at", 0)) < LIFETIME_SECONDS
    }
    search_id = secrets.token_urlsafe(12)
    kept[search_id] = {
        "scope": scope,
        "schema": current_schema(),
        "user": _owner(request),
        "at": now,
        "terms": {name: list(values) for name, values in terms.items()},
    }
    if len(kept) > KEPT:
        kept = dict(sorted(kept.items(), key=lambda item: int(item[1]["at"]))[-KEPT:])
    request.session[SESSION_KEY] = kept
    return search_id


def search_terms(request: HttpRequest, *, scope: str, search_id: str | None = None) -> QueryDict | None:
    """The terms kept under `search_id` (default: the request's `?s=`), or None when it finds nothing: no id, an
    expired one, or one kept for another scope, city or user."""
    search_id = request.GET.get(PARAM, "") if search_id is None else search_id
    entry = _kept(request).get(search_id) if search_id else None
    if not isinstance(entry, dict):
        return None
    if (
        entry.get("scope") != scope
        or entry.get("schema") != current_schema()
        or entry.get("user") != _owner(request)
        or int(time.time()) - int(entry.get("at", 0)) >= LIFETIME_SECONDS
    ):
        return None
    data = QueryDict(mutable=True)
    for name, values in dict(entry.get("terms") or {}).items():
        data.setlist(name, [str(value) for value in values])
    return data


def search_url(path: str, search_id: str, **extra: str) -> str:
    """`path` showing the kept search `search_id` (`extra`: further parameters that carry no search terms)."""
    return f"{path}?{urlencode({PARAM: search_id, **extra})}"


def search_step(
    request: HttpRequest,
    make_form: Callable[..., F],
    *,
    scope: str,
    keep: Sequence[str] = (),
    overrides: Sequence[str] = (),
    bound_when_empty: bool = False,
    **form_kwargs: Any,
) -> SearchStep[F]:
    """One search page's request: POST → validate, keep and redirect (303), or re-render (400); GET → the form
    bound to the kept search of `?s=`, or unbound (bound to nothing when `bound_when_empty`, for a list that shows
    everything before any search).

    `keep`: GET parameters carried to the redirect (e.g. `list`), never search terms. `overrides`: GET parameters
    that may replace a kept term (choice fields a page links to, e.g. a state), never free text.
    """
    if request.method == "POST":
        form = make_form(request.POST, **form_kwargs)
        if not form.is_valid():
            return SearchStep(form, status=400)
        search_id = search_save(request, scope=scope, terms=_fields_of(form, request.POST))
        extra = {name: request.GET[name] for name in keep if request.GET.get(name)}
        return SearchStep(form, HttpResponseSeeOther(search_url(request.path, search_id, **extra)), search_id)
    search_id = request.GET.get(PARAM, "")
    data = search_terms(request, scope=scope) if search_id else None
    if search_id and data is None:
        messages.info(request, _("この検索は期限が切れたか、見つかりません。もう一度検索してください。"))
        search_id = ""
    if data is None and bound_when_empty:
        data = QueryDict(mutable=True)
    if data is not None:
        for name in overrides:
            if name in request.GET:
                data.setlist(name, request.GET.getlist(name)[:MAX_VALUES])
        return SearchStep(make_form(data, **form_kwargs), search_id=search_id)
    return SearchStep(make_form(**form_kwargs))
