"""What the residents' pages read on every request, cached so that a calendar page costs one cache round trip.

- The resident context: the city's booking settings, appearance and active purposes. Rebuilt on a miss (three
  queries), forgotten whenever one of those rows (or a counter group) is saved or deleted (`signals.py`).
- The month calendar page per purpose, month, language and day, for `PAGE_SECONDS`, stamped with the context it
  was rendered from; only pages that hold nothing of the visitor (no user, no messages) are cached, rendered with
  a placeholder where the CSRF token goes (`page_with_csrf` puts each visitor's own in). Only canonical addresses
  are cached or served from the cache (`canonical_query`): the page shows its own address (the language switch's
  `next`), so anything else the visitor put in the query string would be served to others, or have their tokens
  filled in. Forgotten with the month's availability (`availability.availability_changed`), so a booking
  shows on the calendar as soon as it commits; a stamp that no longer matches the context is ignored.
- The calendar view reads the context and its body with `base.prefetch` in one `get_many` (together with the
  keys every page reads, such as the vendor's maintenance notices).

Keys are tenant-prefixed by the cache's key function, like every other key of the project.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string

from apps.booking.models import BookingSettings, Purpose, SiteAppearance
from base.prefetch import prefetch, prefetched

CONTEXT_KEY = "booking:resident-context:v2"  # v2: ResidentContext moved to apps.booking.resident.page_cache
CONTEXT_SECONDS = 5 * 60
PAGE_SECONDS = 60
_CONTEXT_ATTR = "_resident_context"


@dataclass(frozen=True)
class ResidentContext:
    settings: BookingSettings
    appearance: SiteAppearance
    purposes: dict[str, Purpose]  # the active purposes by code, in display order
    stamp: str = field(default_factory=lambda: uuid.uuid4().hex)


def page_key(code: str, year: int, month: int, language: str, today: date, *, month_in_query: bool) -> str:
    # The page links back to its own address (the language switch's `next`): with or without ?month= differ.
    query = "q" if month_in_query else "-"
    return f"booking:calendar-page:{code}:{year:04d}-{month:02d}:{language}:{today:%Y%m%d}:{query}"


def canonical_query(request: HttpRequest, year: int, month: int) -> bool:
    """True when the raw query string is one the page key stands for: none, or `month=YYYY-MM` of the month shown,
    once. A repeated or unknown parameter, another spelling (`%2D`, a trailing `&`) or any other text is rendered
    uncached, so no visitor's input ever reaches a cached page."""
    query = request.META.get("QUERY_STRING", "")
    return query in ("", f"month={year:04d}-{month:02d}")


def _page_keys(codes: Iterable[str], year: int, month: int, today: date) -> list[str]:
    languages = [code for code, _name in settings.LANGUAGES]
    return [
        page_key(c, year, month, lang, today, month_in_query=q)
        for c in codes
        for lang in languages
        for q in (False, True)
    ]


# Rendered in place of the CSRF token in a cached page; each response gets its own visitor's token.
CSRF_PLACEHOLDER = "csrf-token-placeholder-3f9c1b"


def page_with_csrf(request: HttpRequest, html: str) -> HttpResponse:
    return HttpResponse(html.replace(CSRF_PLACEHOLDER, get_token(request)))


def page_context(request: HttpRequest, key: str) -> ResidentContext:
    """The resident context, read together with the cached page `key` in one round trip (`base.prefetch`)."""
    prefetch(request, [CONTEXT_KEY, key])
    return resident_context(request)


def cached_page(
    request: HttpRequest,
    *,
    key: str,
    cacheable: bool,
    stamp: str,
    template: str,
    page: Callable[[], dict[str, Any]],
) -> HttpResponse:
    """Serve page `key` from the cache while it was rendered from the context `stamp`; else render `template`
    with `page()`, and keep it when `cacheable` (a canonical address) and it holds nothing of the visitor (no
    user, no messages). The cached copy has a placeholder for the CSRF token; each visitor gets their own."""
    cacheable = cacheable and not request.user.is_authenticated and not len(messages.get_messages(request))
    if cacheable:
        _found, cached = prefetched(request, key)
        if isinstance(cached, tuple) and cached[0] == stamp:
            return page_with_csrf(request, cached[1])
    values = page()
    if not cacheable:
        return render(request, template, values)
    html = render_to_string(template, {**values, "csrf_token": CSRF_PLACEHOLDER}, request=request)
    cache.set(key, (stamp, html), PAGE_SECONDS)
    return page_with_csrf(request, html)


def _build() -> ResidentContext:
    from apps.booking.calendar.services import settings_ensure
    from apps.booking.reservations.selectors import appearance_get

    purposes = Purpose.objects.filter(active=True).order_by("order", "pk")
    return ResidentContext(
        settings=settings_ensure(),
        appearance=appearance_get(),
        purposes={p.code: p for p in purposes},
    )


def resident_context(request: HttpRequest | None = None) -> ResidentContext:
    """The city's resident context: from this request's memo, its prefetch, the cache, or the database."""
    memo: ResidentContext | None = getattr(request, _CONTEXT_ATTR, None)
    if memo is not None:
        return memo
    found, value = prefetched(request, CONTEXT_KEY)
    context: ResidentContext | None = value if found else cache.get(CONTEXT_KEY)
    if not isinstance(context, ResidentContext):
        context = _build()
        cache.set(CONTEXT_KEY, context, CONTEXT_SECONDS)
    if request is not None:
        setattr(request, _CONTEXT_ATTR, context)
    return context


def resident_context_changed() -> None:
    """Forget the context now (this transaction's readers) and after commit (everyone else's)."""
    cache.delete(CONTEXT_KEY)
    transaction.on_commit(lambda: cache.delete(CONTEXT_KEY))


def calendar_pages_forget(*, year: int, month: int) -> None:
    """Forget every purpose's cached calendar body of one month (called with the month's availability)."""
    from django.utils import timezone

    context = cache.get(CONTEXT_KEY)
    codes = (
        list(context.purposes)
        if isinstance(context, ResidentContext)
        else list(Purpose.objects.values_list("code", flat=True))
    )
    if codes:
        cache.delete_many(_page_keys(codes, year, month, timezone.localdate()))
