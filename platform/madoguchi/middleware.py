"""Request-scoped context for logs: a request id (taken from a trusted proxy or made here) and the user."""

from __future__ import annotations

import logging
import math
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.http import HttpRequest, HttpResponse

from apps.security.network import peer_is_trusted_proxy
from base.log_context import request_id_var, tenant_var, user_var

logger = logging.getLogger(__name__)
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _incoming_request_id(request: HttpRequest) -> str | None:
    """The id our own proxy gave the request (nginx's $request_id), or None.

    Only a trusted proxy's header is taken: from anyone else an X-Request-ID is attacker-chosen text that would
    reach the logs and the audit log, where it could impersonate another request's trail. And only a well-formed
    id: a header value must never inject into logs or response headers."""
    incoming = request.META.get("HTTP_X_REQUEST_ID", "")
    if incoming and _SAFE_REQUEST_ID.match(incoming) and peer_is_trusted_proxy(request):
        return str(incoming)
    return None


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _incoming_request_id(request) or uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        tokens = (request_id_var.set(request_id), tenant_var.set("-"), user_var.set("-"))
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(tokens[0])
            tenant_var.reset(tokens[1])
            user_var.reset(tokens[2])
        response["X-Request-ID"] = request_id
        return response


class LogContextUserMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            # The user's id, not the name: a log line must not carry personal data.
            user_var.set(str(user.pk))
        return self.get_response(request)


@dataclass(frozen=True)
class MaintenanceWindow:
    """A maintenance window in progress for one city and module ("booking", "issuance", "api"): issue 15 makes
    these from the approved windows; the answers below only need its end and its notice."""

    module: str
    ends_at: datetime | None
    notice_ja: str
    notice_en: str = ""

    def retry_after(self, now: datetime) -> int:
        """Seconds until the window ends (at least 1); an hour when it has no end yet."""
        if self.ends_at is None:
            return MAINTENANCE_RETRY_AFTER_UNKNOWN
        return max(1, math.ceil((self.ends_at - now).total_seconds()))

    def notice(self, language: str) -> str:
        return self.notice_en if language == "en" and self.notice_en else self.notice_ja


MAINTENANCE_RETRY_AFTER_UNKNOWN = 3600
API_PREFIX = "/api/"


# Paths of each module that a maintenance window closes (issue 15). Everything else stays up: the console (the
# vendor's host), login (/accounts/), the language switch, /healthz and /readyz, static files, the staff menu, the
# audit log and the supervisor's maintenance pages (/staff/vendor/), so a city can still answer the vendor.
MODULE_PREFIXES: tuple[tuple[str, str], ...] = (
    (API_PREFIX, "api"),
    ("/staff/booking/", "booking"),
    ("/book/", "booking"),
    ("/staff/cards/", "issuance"),
    ("/staff/counter/", "issuance"),
    ("/staff/reports/", "issuance"),
    ("/n/", "issuance"),
)


def module_of(path: str) -> str | None:
    """The module a path belongs to for maintenance ("booking", "issuance", "api"), or None (always up)."""
    if path == "/":
        return "booking"  # the city's booking top page
    return next((module for prefix, module in MODULE_PREFIXES if path.startswith(prefix)), None)


def maintenance_window(request: HttpRequest, module: str) -> MaintenanceWindow | None:
    """The window in progress for the request's city and `module`, or None.

    Called on every request to a city's host before anything is served from the cache: one cached read per city
    (console.maintenance.cache, the key read with the page's keys in its one `get_many`), a query once a minute."""
    from django.utils import timezone

    from base.prefetch import prefetch
    from console.maintenance.cache import city_windows
    from console.maintenance.selectors import in_progress

    now = timezone.now()
    prefetch(request, [])  # every page's keys (this city's windows among them) in one round trip
    window = in_progress(city_windows(request, now), module, now)
    if window is None:
        return None
    return MaintenanceWindow(
        module=module,
        ends_at=window.end,
        notice_ja=_notice_text(window.title_ja, window.body_ja),
        notice_en=_notice_text(window.title_en, window.body_en) if window.title_en or window.body_en else "",
    )


def _notice_text(title: str, body: str) -> str:
    from django.utils.html import strip_tags

    text = strip_tags(body).strip()
    return f"{title}: {text}" if text else title


def maintenance_response(request: HttpRequest) -> HttpResponse | None:
    """The maintenance check: the answer to give instead of the page, or None to go on.

    ResidentPageMiddleware calls it first, before it serves anything from the cache, so that a page cached before
    a maintenance window never answers during it. Under /api/ a window of the "api" module is a 503 problem
    `maintenance` with Retry-After and the notice as `detail`; the pages of a module in maintenance answer the
    Japanese maintenance page (503, Retry-After, the notice; English by the visitor's language choice).
    """
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.is_public:
        return None
    module = module_of(request.path)
    if module is None:
        return None
    window = maintenance_window(request, module)
    if window is None:
        return None
    from django.template.loader import render_to_string
    from django.utils import timezone, translation

    from base.problems import language, problem_response

    translation.activate(translation.get_language_from_request(request))  # before LocaleMiddleware
    headers = {"Retry-After": str(window.retry_after(timezone.now())), "Cache-Control": "no-store"}
    if module == "api":
        return problem_response(
            "maintenance", detail=window.notice(language()), instance=request.path, headers=headers
        )
    from apps.booking.resident.page_cache import resident_context

    # Rendered without the request (no context processor, no session, no user: none has run yet), like the 503
    # page of a database away; in the city's colours, with its name and phone (the resident context, cached), and
    # a way to the city's top page while that page is up (a window of issuance alone).
    html = render_to_string(
        "madoguchi/maintenance.html",
        {
            "window": window,
            "city": tenant,
            "appearance": resident_context(request).appearance,
            "top_open": module != "booking" and maintenance_window(request, "booking") is None,
        },
    )
    response = HttpResponse(html, status=503, headers=headers)
    response["Content-Language"] = translation.get_language()
    return response


class ResidentPageMiddleware:
    """Anonymous resident pages straight from the cache, right after tenant routing (issue 12, item 3).

    Sits right after MunicipalityMiddleware. For a GET on a city's host of the city top, the purposes, a month
    calendar or a day page at its canonical address (`page_cache.request_page_key`), from a visitor with no session
    and no messages (so no user either), it reads the resident context and the page in the page's one `get_many`
    and, when the page was rendered from that context, answers with it: the session, auth, messages, audit and
    allauth middleware and the view never run. The answer is what the view's answer was: the headers the page was
    first answered with (Vary, Content-Language, Cache-Control, X-Frame-Options, kept with the page), the visitor's
    language as LocaleMiddleware picks it (cookie, then Accept-Language, then ja), and the visitor's CSRF token in
    place of the placeholder, with the cookie set as CsrfViewMiddleware sets it (a visitor without one gets one).
    The security headers and CSP come from the middleware above routing, as for every answer. Otherwise the
    request goes on as usual; when the view renders a page it may cache, this middleware stores it with its headers.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from django.middleware.csrf import CsrfViewMiddleware

        self.get_response = get_response
        self.csrf = CsrfViewMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from apps.booking.resident.page_cache import CAPTURE_ATTR, CONTEXT_KEY, ENTRY_ATTR, page_store
        from base.prefetch import prefetch

        key = self._page_key(request)
        if key is not None:
            # The page's keys and every page's keys (the city's maintenance windows among them) in one `get_many`,
            # before the maintenance check reads its key.
            prefetch(request, [CONTEXT_KEY, key])
        early = maintenance_response(request)
        if early is not None:
            return early
        if key is None:
            return self.get_response(request)
        cached = self._cached(request, key)
        if cached is not None:
            return cached
        setattr(request, CAPTURE_ATTR, True)
        response = self.get_response(request)
        entry = getattr(response, ENTRY_ATTR, None)
        if entry is not None and response.status_code == 200:
            page_store(key=entry[0], stamp=entry[1], html=entry[2], headers=_kept_headers(response))
        return response

    @staticmethod
    def _page_key(request: HttpRequest) -> str | None:
        from django.conf import settings
        from django.contrib.messages.storage.cookie import CookieStorage
        from django.utils import translation

        from apps.booking.resident.page_cache import request_page_key
        from apps.booking.resident.presenters import page_language
        from apps.security.middleware import address_holds_individual_number

        tenant = getattr(request, "tenant", None)
        if request.method != "GET" or tenant is None or tenant.is_public:
            return None
        if settings.SESSION_COOKIE_NAME in request.COOKIES or CookieStorage.cookie_name in request.COOKIES:
            return None  # a session may hold a user or messages: the view decides
        if address_holds_individual_number(request):
            return None  # refused with a 400 further down
        translation.activate(translation.get_language_from_request(request))
        request.LANGUAGE_CODE = translation.get_language()
        return request_page_key(request, page_language())

    def _cached(self, request: HttpRequest, key: str) -> HttpResponse | None:
        from apps.booking.resident.page_cache import (
            CONTEXT_KEY,
            ResidentContext,
            cached_entry,
            page_stamp,
            page_with_csrf,
        )
        from base.prefetch import prefetch, prefetched

        prefetch(
            request, [CONTEXT_KEY, key]
        )  # with every page's keys: a miss leaves nothing for the view to read
        _found, context = prefetched(request, CONTEXT_KEY)
        if not isinstance(context, ResidentContext):
            return None
        _found, value = prefetched(request, key)
        entry = cached_entry(value, page_stamp(context))
        if entry is None:
            return None
        html, headers = entry
        if headers is None:  # stored by a view without this middleware: answered by the view, then kept here
            return None
        self.csrf.process_request(request)
        response = page_with_csrf(request, html)
        for name, header in headers:
            response.headers[name] = header
        response.headers["Content-Length"] = str(len(response.content))  # as CommonMiddleware sets it
        self.csrf.process_response(request, response)
        return response


# Not kept with a page: its length changes with the token put in; the request id is each request's own.
_NOT_KEPT = {"content-length", "x-request-id"}


def _kept_headers(response: HttpResponse) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name, value in response.headers.items() if name.lower() not in _NOT_KEPT)


# --- The database away (a restart, a failover, PgBouncer restarting) ---------------------------------------------
# Seconds a client is asked to wait: a fast restart or a PgBouncer restart is over in a few seconds.
DATABASE_RETRY_AFTER = 5
# One log line per process in this many seconds while the database stays away, with the count of the answers since.
DATABASE_LOG_EVERY = 30.0


class _OutageLog:
    """Rate limit of the warning: a minute of outage under load is thousands of failed requests, not one incident."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last = -math.inf
        self.suppressed = 0

    def warn(self, request: HttpRequest, exc: BaseException) -> None:
        now = time.monotonic()
        with self.lock:
            if now - self.last < DATABASE_LOG_EVERY:
                self.suppressed += 1
                return
            self.last, suppressed, self.suppressed = now, self.suppressed, 0
        logger.warning(
            "database unavailable: 503 with Retry-After %ss for %s %s (%s: %s); %d more such answers since the "
            "last line",
            DATABASE_RETRY_AFTER,
            request.method,
            request.path,
            type(exc).__name__,
            str(exc).splitlines()[0][:200] if str(exc) else "",
            suppressed,
        )


_OUTAGE_LOG = _OutageLog()


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` means the database cannot be reached or its connection broke (not a bug of ours).

    OperationalError covers a refused or broken connection, a server shutting down and a PgBouncer without a
    server; InterfaceError a connection already closed under the request. Both pass once the database is back."""
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError)


def _close_broken_connections() -> None:
    """Drop this thread's connections now, so the next request opens a fresh one instead of reusing a dead one
    (CONN_MAX_AGE keeps them between requests; CONN_HEALTH_CHECKS would find out too, one query later)."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        try:
            conn.close()
        except Exception:  # closing a dead connection may fail; it is gone either way
            conn.connection = None


def database_unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 with Retry-After: problem+json `database_unavailable` under /api/, the Japanese-first page elsewhere.

    Rendered without the request (no context processor, no session, no city, no query): the database is away."""
    from django.template.loader import render_to_string
    from django.utils import translation

    from base.problems import problem_response

    _close_broken_connections()
    _OUTAGE_LOG.warn(request, exc)
    translation.activate(translation.get_language_from_request(request))  # the cookie or Accept-Language
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER), "Cache-Control": "no-store"}
    response: HttpResponse
    if request.path.startswith(API_PREFIX):
        response = problem_response("database_unavailable", instance=request.path, headers=headers)
    else:
        html = render_to_string("madoguchi/unavailable.html", {"retry_after": DATABASE_RETRY_AFTER})
        response = HttpResponse(html, status=503, headers=headers)
        response["Content-Language"] = translation.get_language()
    # Logged above, at most once per DATABASE_LOG_EVERY: Django's "Internal Server Error" line with a traceback for
    # every request of an outage would bury the one line that matters.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500 of every URLconf: an exception nothing else handled, raised anywhere in the request (a view, the
    tenant routing's first query, the session middleware). The database away is a 503 the client may retry; any
    other exception is Django's 500 page (frontend/templates/500.html)."""
    from django.views import defaults

    exc = sys.exc_info()[1]
    if database_unavailable(exc):
        assert exc is not None
        return database_unavailable_response(request, exc)
    return defaults.server_error(request)
