"""Address ranges that may open staff pages: how one is read, and which are too broad to mean one organisation.

Plain Python on purpose (no models, no settings): the settings' start-up checks (madoguchi.safety) apply the same
rule to MADOGUCHI_VENDOR_NETWORKS before Django's apps are loaded.
"""

from __future__ import annotations

import ipaddress

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The broadest range we accept, per IP version. IPv4: a /8 is the largest block ever assigned to one
# organisation (and the whole of 10.0.0.0/8, a large city's own network); anything broader spans unrelated
# owners, and /0 is everyone. IPv6: a /32 is the registries' minimum allocation to an ISP, so a range broader
# than /32 spans several providers' customers; one city or vendor office never needs more than its ISP's block
# (in practice a /48 or /56).
MIN_PREFIX_LENGTH = {4: 8, 6: 32}
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def parse_network(value: str) -> IPNetwork:
    """The range `value` names (host bits dropped). An IPv4-mapped IPv6 range is folded to its IPv4 form, as
    client addresses are (apps.security.network), so it matches the clients it seems to name. Raises ValueError."""
    network = ipaddress.ip_network(value.strip(), strict=False)
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_IPV4_MAPPED):
        mapped = network.network_address.ipv4_mapped
        assert mapped is not None  # inside ::ffff:0:0/96
        return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def too_broad(network: IPNetwork) -> bool:
    """True for /0 and every range broader than MIN_PREFIX_LENGTH allows."""
    return network.prefixlen < MIN_PREFIX_LENGTH[network.version]


def overlaps_loopback(network: IPNetwork) -> bool:
    loopback = (
        ipaddress.IPv4Network("127.0.0.0/8") if network.version == 4 else ipaddress.IPv6Network("::1/128")
    )
    return network.overlaps(loopback)
