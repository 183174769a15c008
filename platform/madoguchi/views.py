from __future__ import annotations

import re
from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import dateformat, timezone, translation
from django.views.decorators.http import require_safe


def vendor_home(request: HttpRequest) -> HttpResponse:
    from tenants.selectors import municipality_directory

    return render(request, "public/home.html", {"municipalities": municipality_directory()})


def city_home(request: HttpRequest) -> HttpResponse:
    """The city's top page: its announcements from the resident context (warm: one cache read, or the cached page)."""
    from apps.booking.content.selectors import announcements_for_page
    from apps.booking.resident.page_cache import cached_page, home_page_key, page_context, page_stamp

    language = "en" if (translation.get_language() or "ja").startswith("en") else "ja"
    key = home_page_key(language)
    context = page_context(request, key)
    return cached_page(
        request,
        key=key,
        cacheable=not request.META.get("QUERY_STRING"),
        stamp=page_stamp(context),
        template="city/home.html",
        page=lambda: {
            "announcements": announcements_for_page(context.announcements, timezone.now(), language)
        },
    )


THEME_DEFAULT_COLOR = "#1d4e89"  # tokens.css's --city-primary
_HEX_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")


def theme_version(updated_at: datetime | None) -> str:
    """The `v` of base.html's `{% url 'theme_css' %}?v=...`: the `date:"U.u"` filter gives the same string."""
    return dateformat.format(updated_at, "U.u") if updated_at is not None else ""


@require_safe
def theme_css(request: HttpRequest) -> HttpResponse:
    """The city's colour as a stylesheet, so that no page needs an inline <style> (CSP style-src 'self')."""
    from apps.booking.reservations.selectors import appearance_get

    appearance = appearance_get()
    # The model validates the colour; checking again keeps anything else stored there out of a stylesheet.
    color = (
        appearance.primary_color if _HEX_COLOR.fullmatch(appearance.primary_color) else THEME_DEFAULT_COLOR
    )
    response = HttpResponse(f":root{{--city-primary:{color}}}\n", content_type="text/css; charset=utf-8")
    version = theme_version(appearance.updated_at)
    if version and request.GET.get("v") == version:
        # The URL names this exact content: a changed colour gets a new `v`, so the old one may be kept for good.
        response["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response["Cache-Control"] = "no-cache"
    return response
