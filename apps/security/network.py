"""The client's address, and whether it may reach staff pages.

The address is REMOTE_ADDR unless the peer is one of the configured trusted proxies (TRUSTED_PROXIES); then the
X-Forwarded-For chain is read from the right, skipping trusted proxies, and the first untrusted hop is the client.
A client's own X-Forwarded-For value is therefore never believed.

Fail closed: behind a trusted proxy, a missing or empty X-Forwarded-For, or an unreadable hop before the client is
found, makes the client unknown (""), never the proxy's own address. An unknown client is refused by every
network list (`address_allowed("")` is False) and is counted by per-address limits as the one bucket "unknown".
Ports are stripped from hops ("203.0.113.7:5555", "[2001:db8::1]:443"); IPv4-mapped IPv6 is folded to IPv4.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from apps.security.models import AllowedNetwork
from apps.security.ranges import too_broad

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


def _parse_hop(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """One address of a header or REMOTE_ADDR, with an optional port: "a.b.c.d", "a.b.c.d:port", an IPv6
    address bare or in brackets, "[v6]:port". Anything else (a name, "unknown", an obfuscated id) is None."""
    text = value.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        text = host
    elif text.count(":") == 1:  # IPv4 with a port (a bare IPv6 address has at least two colons)
        text, _colon, port = text.partition(":")
        if not port.isdigit():
            return None
    return _parse(text) if text else None


def _forwarded_client(chain: str, proxies: tuple[IPNetwork, ...]) -> str:
    """The client in an X-Forwarded-For chain appended to by our trusted proxies, or "" when it cannot be told.

    Several X-Forwarded-For headers reach us joined with commas (WSGI servers join repeated headers), so this is
    one chain either way."""
    hops = chain.split(",")
    if not chain.strip():
        return ""  # the proxy sent no chain: who connected to it is unknown, and it is not the proxy itself
    leftmost: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    for hop in reversed(hops):
        address = _parse_hop(hop)
        if address is None:
            return ""  # a hop we cannot read stands between us and the client: fail closed
        if not _in(address, proxies):
            return str(address)
        leftmost = address
    # Every hop is a trusted proxy: each one vouches for the next, and the left-most is what the outermost of
    # them saw connect (e.g. `make prod-local`: a browser on the same machine as nginx, on loopback).
    return str(leftmost) if leftmost is not None else ""


def client_ip(request: HttpRequest) -> str:
    """The client's address as a string ('' when it cannot be read)."""
    cached = getattr(request, "_client_ip", None)
    if cached is not None:
        return str(cached)
    proxies = _trusted_proxies(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    peer = _parse_hop(request.META.get("REMOTE_ADDR", ""))
    if peer is None:
        result = ""
    elif proxies and _in(peer, proxies):
        result = _forwarded_client(request.META.get("HTTP_X_FORWARDED_FOR", ""), proxies)
    else:
        result = str(peer)
    request._client_ip = result  # type: ignore[attr-defined]
    return result


def peer_is_trusted_proxy(request: HttpRequest) -> bool:
    """True when the connection itself comes from a trusted proxy (whose headers we may believe)."""
    proxies = _trusted_proxies(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    peer = _parse_hop(request.META.get("REMOTE_ADDR", ""))
    return peer is not None and bool(proxies) and _in(peer, proxies)


def allowed_networks() -> list[IPNetwork]:
    """The current schema's allowed ranges (cached per city; the cache key is tenant-prefixed)."""
    specs: list[str] | None = cache.get(_NETWORKS_CACHE_KEY)
    if specs is None:
        specs = list(AllowedNetwork.objects.values_list("cidr", flat=True))
        cache.set(_NETWORKS_CACHE_KEY, specs, 300)
    networks = [ipaddress.ip_network(spec, strict=False) for spec in specs]
    # A range saved before broad ranges were refused (0.0.0.0/0, say) opens nothing: it stays listed on the
    # networks page, where a supervisor removes it.
    return [network for network in networks if not too_broad(network)]


def forget_allowed_networks() -> None:
    cache.delete(_NETWORKS_CACHE_KEY)


def vendor_networks() -> list[IPNetwork]:
    # Broad ranges open nothing here either (secure mode refuses to start with one: madoguchi.safety).
    networks = _trusted_proxies(tuple(getattr(settings, "VENDOR_ALLOWED_NETWORKS", ())))
    return [network for network in networks if not too_broad(network)]


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
