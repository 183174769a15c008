"""What the residents' pages read on every request, cached so that a warm page costs one cache round trip.

- The resident context: the city's booking settings, appearance, active purposes (with their counter group) and
  the announcements not yet ended. Rebuilt on a miss (four queries), forgotten whenever one of those rows (or a
  counter group) is saved or deleted (`signals.py`; announcements: the receivers below).
- Whole pages (city top, purposes, month calendar, day page: `*_page_key`), per language (and purpose, month, day,
  today's date where they show them), for `PAGE_SECONDS`, stamped with the context and the routing version they
  were rendered from (`page_stamp`); only pages that hold nothing of the visitor (no user, no messages) are cached, rendered with
  a placeholder where the CSRF token goes (`page_with_csrf` puts each visitor's own in). Only canonical addresses
  are cached or served from the cache (`canonical_query`): the page shows its own address (the language switch's
  `next`), so anything else the visitor put in the query string would be served to others, or have their tokens
  filled in. Calendar and day pages are forgotten with the month's availability
  (`availability.availability_changed`), so a booking shows on both as soon as it commits; a stamp that no longer
  matches the context is ignored. An entry is `(stamp, html, headers)`: the headers the page was answered with,
  kept by `ResidentPageMiddleware` (resident/middleware.py), which serves anonymous visitors from it before the
  session, auth and audit middleware run; an entry a view stored itself has None there.
- The views read the context and their page with `base.prefetch` in one `get_many` (together with the keys every
  page reads, such as the vendor's maintenance notices).

Keys are tenant-prefixed by the cache's key function, like every other key of the project.
"""

from __future__ import annotations

import calendar
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from django.utils import timezone

from apps.booking.calendar.hours import TOKYO
from apps.booking.models import Announcement, BookingSettings, Purpose, SiteAppearance
from base.prefetch import prefetch, prefetched
from tenants.routing import ROUTES

CONTEXT_KEY = "booking:resident-context:v3"  # v3: the context holds the announcements
CONTEXT_SECONDS = 5 * 60
PAGE_SECONDS = 60
_CONTEXT_ATTR = "_resident_context"
# Set on the request by ResidentPageMiddleware: the view leaves storing the page to it (with the headers).
CAPTURE_ATTR = "_resident_page_capture"
# Set on the response by `cached_page`: (key, stamp, html) for the middleware to store.
ENTRY_ATTR = "_resident_page_entry"


@dataclass(frozen=True)
class ResidentContext:
    settings: BookingSettings
    appearance: SiteAppearance
    purposes: dict[str, Purpose]  # the active purposes by code, in display order, with their counter group
    announcements: tuple[
        Announcement, ...
    ] = ()  # not ended when built; pages show those shown at their `now`
    stamp: str = field(default_factory=lambda: uuid.uuid4().hex)


def page_stamp(context: ResidentContext) -> str:
    """What a cached page was rendered from: the context and the routing version (the city's name and contacts)."""
    return f"{context.stamp}:{ROUTES.version}"


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


def day_page_key(code: str, day: date, language: str, today: date) -> str:
    return f"booking:day-page:{code}:{day:%Y%m%d}:{language}:{today:%Y%m%d}"


def purposes_page_key(language: str) -> str:
    return f"booking:purposes-page:{language}"


def home_page_key(language: str) -> str:
    return f"booking:home-page:{language}"


_MONTH_QUERY = re.compile(r"month=(\d{4})-(\d{2})")


def request_page_key(request: HttpRequest, language: str) -> str | None:
    """The key of the page this GET asks for, when it is a page the views cache for every visitor at this address
    (`cached_page` with a canonical address), else None: read by ResidentPageMiddleware before any view runs, so it
    must name the same key the view does."""
    try:
        match = resolve(request.path_info, urlconf=getattr(request, "urlconf", None))
    except Resolver404:
        return None
    query = request.META.get("QUERY_STRING", "")
    name = match.view_name
    today = timezone.now().astimezone(TOKYO).date()
    if name == "booking:calendar":
        code = match.kwargs["purpose_code"]
        if not query:
            return page_key(code, today.year, today.month, language, today, month_in_query=False)
        month = _MONTH_QUERY.fullmatch(query)
        if month is None or not 1 <= int(month.group(2)) <= 12:
            return None
        return page_key(code, int(month.group(1)), int(month.group(2)), language, today, month_in_query=True)
    if query:
        return None
    if name == "booking:day":
        try:
            day = date.fromisoformat(match.kwargs["day"])
        except ValueError:
            return None
        return (
            day_page_key(match.kwargs["purpose_code"], day, language, today)
            if match.kwargs["day"] == day.isoformat()
            else None
        )
    if name == "booking:purposes":
        return purposes_page_key(language)
    if name == "home":
        return home_page_key(language)
    return None


def _page_keys(codes: Iterable[str], year: int, month: int, today: date, day: date | None) -> list[str]:
    languages = [code for code, _name in settings.LANGUAGES]
    days = [day] if day else [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]
    codes = list(codes)
    months = [
        page_key(c, year, month, lang, today, month_in_query=q)
        for c in codes
        for lang in languages
        for q in (False, True)
    ]
    return months + [day_page_key(c, d, lang, today) for c in codes for d in days for lang in languages]


# Rendered in place of the CSRF token in a cached page; each response gets its own visitor's token.
CSRF_PLACEHOLDER = "csrf-token-placeholder-3f9c1b"


def page_with_csrf(request: HttpRequest, html: str) -> HttpResponse:
    return HttpResponse(html.replace(CSRF_PLACEHOLDER, get_token(request)))


def cached_entry(value: Any, stamp: str) -> tuple[str, tuple[tuple[str, str], ...] | None] | None:
    """(html, headers or None) of a cache entry rendered from `stamp`, or None."""
    if isinstance(value, tuple) and len(value) == 3 and value[0] == stamp:
        return value[1], value[2]
    return None


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
    """Serve page `key` from the cache while it was rendered from `stamp` (`page_stamp`); else render `template`
    with `page()`, and keep it when `cacheable` (a canonical address) and it holds nothing of the visitor (no
    user, no messages). The cached copy has a placeholder for the CSRF token; each visitor gets their own.
    Under ResidentPageMiddleware the middleware stores the page, with the headers of the whole answer."""
    cacheable = cacheable and not request.user.is_authenticated and not len(messages.get_messages(request))
    capture = getattr(request, CAPTURE_ATTR, False)
    if cacheable:
        _found, value = prefetched(request, key)
        entry = cached_entry(value, stamp)
        if entry is not None:
            response = page_with_csrf(request, entry[0])
            if capture and entry[1] is None:
                setattr(response, ENTRY_ATTR, (key, stamp, entry[0]))
            return response
    values = page()
    if not cacheable:
        return render(request, template, values)
    html = render_to_string(template, {**values, "csrf_token": CSRF_PLACEHOLDER}, request=request)
    response = page_with_csrf(request, html)
    if capture:
        setattr(response, ENTRY_ATTR, (key, stamp, html))
    else:
        cache.set(key, (stamp, html, None), PAGE_SECONDS)
    return response


def page_store(*, key: str, stamp: str, html: str, headers: tuple[tuple[str, str], ...]) -> None:
    cache.set(key, (stamp, html, headers), PAGE_SECONDS)


def _build() -> ResidentContext:
    from apps.booking.calendar.services import settings_ensure
    from apps.booking.content.selectors import announcements_not_ended
    from apps.booking.reservations.selectors import appearance_get

    purposes = Purpose.objects.filter(active=True).select_related("counter_group").order_by("order", "pk")
    return ResidentContext(
        settings=settings_ensure(),
        appearance=appearance_get(),
        purposes={p.code: p for p in purposes},
        announcements=tuple(announcements_not_ended(timezone.now())),
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


def calendar_pages_forget(*, year: int, month: int, day: date | None = None) -> None:
    """Forget every purpose's cached calendar page of one month and its day pages (of `day` only, when given),
    called with the month's availability."""
    context = cache.get(CONTEXT_KEY)
    codes = (
        list(context.purposes)
        if isinstance(context, ResidentContext)
        else list(Purpose.objects.values_list("code", flat=True))
    )
    if codes:
        cache.delete_many(_page_keys(codes, year, month, timezone.localdate(), day))


def _announcements_changed(sender: Any, **kwargs: Any) -> None:
    resident_context_changed()  # the context holds the announcements: pages show a saved one at once


for _signal, _name in ((post_save, "save"), (post_delete, "delete")):
    _signal.connect(
        _announcements_changed,
        sender="booking.Announcement",
        dispatch_uid=f"booking.context.{_name}.Announcement",
    )
