"""The client's address, and whether it may reach staff pages.

The address is REMOTE_ADDR unless the peer is one of the configured trusted proxies (TRUSTED_PROXIES); then the
X-Forwarded-For chain is read from the right, skipping trusted proxies, and the first untrusted hop is the client.
A client's own X-Forwarded-For value is therefore never believed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from apps.security.models import AllowedNetwork

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_NETWORKS_CACHE_KEY = "security:allowed-networks"


@lru_cache(maxsize=1)
def _trusted_proxies(spec: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in spec)


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _in(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Iterable[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_ip(request: HttpRequest) -> str:
    """The client's address as a string ('' when it cannot be read)."""
    cached = getattr(request, "_client_ip", None)
    if cached is not None:
        return str(cached)
    proxies = _trusted_proxies(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    peer = _parse(request.META.get("REMOTE_ADDR", ""))
    client = peer
    if peer is not None and proxies and _in(peer, proxies):
        hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        for hop in reversed(hops):
            address = _parse(hop)
            if address is None:
                break  # a garbled chain: stop at the last hop we could trust
            client = address
            if not _in(address, proxies):
                break
    result = str(client) if client is not None else ""
    request._client_ip = result  # type: ignore[attr-defined]
    return result


def allowed_networks() -> list[IPNetwork]:
    """The current schema's allowed ranges (cached per city; the cache key is tenant-prefixed)."""
    specs: list[str] | None = cache.get(_NETWORKS_CACHE_KEY)
    if specs is None:
        specs = list(AllowedNetwork.objects.values_list("cidr", flat=True))
        cache.set(_NETWORKS_CACHE_KEY, specs, 300)
    return [ipaddress.ip_network(spec, strict=False) for spec in specs]


def forget_allowed_networks() -> None:
    cache.delete(_NETWORKS_CACHE_KEY)


def vendor_networks() -> list[IPNetwork]:
    return list(_trusted_proxies(tuple(getattr(settings, "VENDOR_ALLOWED_NETWORKS", ()))))


def address_allowed(address: str, networks: Iterable[IPNetwork]) -> bool:
    parsed = _parse(address)
    return parsed is not None and _in(parsed, networks)


def address_buckets(address: str) -> list[str]:
    """The units a per-address limit counts: an IPv4 address itself; for IPv6 its /64 (one subscriber's
    network, inside which it may rotate addresses freely) and its /56 (a whole site's delegation). An unreadable
    address is one bucket, "unknown", so it is limited too instead of escaping every limit."""
    parsed = _parse(address)
    if parsed is None:
        return ["unknown"]
    if isinstance(parsed, ipaddress.IPv4Address):
        return [str(parsed)]
    return [str(ipaddress.IPv6Network((parsed, prefix), strict=False)) for prefix in (64, 56)]
