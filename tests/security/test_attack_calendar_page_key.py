"""Issue 10, item 9: a calendar page cached for a URL that repeats `?month=` made the language switch carry the
visitor's own CSRF token in its `next` URL (the placeholder the cache fills with each visitor's token could be put
into the query string, and the page shows its own address).

Now only canonical requests are cached or served from the cache (page_cache.canonical_query): no query string, or
`month=YYYY-MM` once. Anything else is rendered for this visitor alone.
"""

from __future__ import annotations

import html
import re

from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from apps.booking.calendar.hours import TOKYO
from apps.booking.resident.page_cache import CSRF_PLACEHOLDER, page_key
from tenants.models import Municipality
from tests.factories import SlotFactory, visit_day


def _visitor() -> Client:
    return Client(HTTP_HOST="ageo.localhost")


def _token_of(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match
    return match.group(1)


def _next_of(page: str) -> str:
    match = re.search(r'name="next" value="([^"]*)"', page)
    assert match
    return html.unescape(match.group(1))


def _secret(client: Client) -> str:
    return client.cookies["csrftoken"].value


def test_a_repeated_month_is_not_cached_and_carries_no_token(in_city: Municipality) -> None:
    month = f"{visit_day():%Y-%m}"
    SlotFactory.create(day=visit_day())
    cache.clear()
    url = f"/book/application/?month={month}&month={month}"
    first, second = _visitor(), _visitor()
    page_one = first.get(url).content.decode()
    page_two = second.get(url).content.decode()
    for part in (_token_of(page_one), _secret(first)):
        assert part not in page_two
        assert part[:16] not in page_two
    assert _token_of(page_one) not in _next_of(page_one)


def test_the_placeholder_in_the_query_string_is_never_filled_with_a_token(in_city: Municipality) -> None:
    month = f"{visit_day():%Y-%m}"
    SlotFactory.create(day=visit_day())
    cache.clear()
    url = f"/book/application/?month={CSRF_PLACEHOLDER}&month={month}"
    for _ in range(2):  # the second visitor would get the first one's page from the cache
        visitor = _visitor()
        page = visitor.get(url).content.decode()
        assert _token_of(page) not in _next_of(page)
        assert _secret(visitor) not in _next_of(page)
        assert CSRF_PLACEHOLDER in _next_of(page)  # shown as typed, never replaced
    # Nor does the canonical page of the month (which is cached) show the other address.
    canonical = _visitor().get(f"/book/application/?month={month}").content.decode()
    assert _next_of(canonical) == f"/book/application/?month={month}"


def _cached(month: str) -> object:
    today = timezone.now().astimezone(TOKYO).date()
    year, number = (int(part) for part in month.split("-"))
    return cache.get(page_key("application", year, number, "ja", today, month_in_query=True))


def test_repeated_unknown_or_other_spellings_are_not_cached(in_city: Municipality) -> None:
    month = f"{visit_day():%Y-%m}"
    SlotFactory.create(day=visit_day())
    cache.clear()
    for query in (
        f"month={month}&month={month}",
        f"month={month}&",
        f"month={month.replace('-', '%2D')}",
        f"month={month}&x=1",
    ):
        page = _visitor().get(f"/book/application/?{query}").content.decode()
        assert _cached(month) is None, query
        assert _next_of(page).startswith("/book/application/?")
    # The canonical address is cached.
    _visitor().get(f"/book/application/?month={month}")
    assert _cached(month) is not None
