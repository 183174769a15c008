"""Read a page's cache keys in one round trip.

A view calls `prefetch(request, keys)`; the keys that every page reads (registered with `register_page_key`, such as
the vendor's maintenance notices of the base template) are read in the same `get_many`. Readers then call
`prefetched(request, key)` before going to the cache themselves. With the database cache (no Redis) each cache read
is a query, so a page built from cached parts costs one query instead of one per part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest

_ATTR = "_cache_prefetch"
_page_keys: list[Callable[[HttpRequest], str | None]] = []


def register_page_key(function: Callable[[HttpRequest], str | None]) -> None:
    """`function(request)` names a key every page reads (or None when this request reads none)."""
    if function not in _page_keys:
        _page_keys.append(function)


def prefetch(request: HttpRequest, keys: list[str]) -> dict[str, Any]:
    """Read `keys` and every page's keys in one `get_many`; keys this request already read are not read again
    (the resident page middleware reads a page's keys before the view does)."""
    known: dict[str, Any] = getattr(request, _ATTR, None) or {}
    wanted = [
        k
        for k in dict.fromkeys([*keys, *(k for k in (f(request) for f in _page_keys) if k)])
        if k not in known
    ]
    values = cache.get_many(wanted) if wanted else {}
    setattr(request, _ATTR, {**known, **{key: values.get(key) for key in wanted}})
    return {key: value for key, value in {**known, **values}.items() if value is not None}


def prefetched(request: HttpRequest | None, key: str) -> tuple[bool, Any]:
    """(True, value or None) when `prefetch` read `key` for this request; (False, None) when it did not."""
    values: dict[str, Any] = getattr(request, _ATTR, None) or {}
    return (key in values, values.get(key))
