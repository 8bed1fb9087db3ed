"""The caller's address: the socket's peer, or, behind a trusted reverse proxy, the client that proxy names.

A forwarded header is believed only when the direct peer is in MODELYARD_TRUSTED_PROXIES: anyone else can write
any address into it. Proxies append to X-Forwarded-For, so the header is read from the right, skipping trusted
proxies; the first address not trusted is the client (anything left of it could have been sent by that client).
X-Forwarded-For is read when present, else RFC 7239 Forwarded (`for=`); the proxy must set one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

from starlette.requests import Request

from modelyard.settings import IPNetwork

IPAddress = IPv4Address | IPv6Address
UNKNOWN = "unknown"


def client_address(request: Request, trusted: Sequence[IPNetwork]) -> str:
    peer = request.client.host if request.client else UNKNOWN
    if not _is_trusted(_address(peer), trusted):
        return peer
    forwarded_for = request.headers.getlist("x-forwarded-for")
    if forwarded_for:
        hops = [hop.strip() for line in forwarded_for for hop in line.split(",")]
    else:
        hops = list(_forwarded_for(request.headers.getlist("forwarded")))
    for hop in reversed(hops):
        address = _address(hop)
        if not _is_trusted(address, trusted):
            # "unknown" or an obfuscated id (RFC 7239 section 6) is kept as the proxy wrote it, as a bucket of its own
            return str(address) if address is not None else hop[:64] or UNKNOWN
    return str(_address(hops[0])) if hops else peer  # every hop is a trusted proxy: the first of them asked


def _is_trusted(address: IPAddress | None, trusted: Sequence[IPNetwork]) -> bool:
    return address is not None and any(address in network for network in trusted)


def _address(hop: str) -> IPAddress | None:
    """The address in `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]` or `[::1]:5678`; None when there is none."""
    hop = hop.strip().strip('"')
    if hop.startswith("["):
        hop = hop[1:].partition("]")[0]
    elif hop.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has several colons
        hop = hop.partition(":")[0]
    try:
        address = ip_address(hop)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1, however the proxy list spells it
    return address


def _forwarded_for(lines: Iterable[str]) -> Iterable[str]:
    """The `for=` value of each element of RFC 7239 Forwarded headers, in order."""
    for line in lines:
        for element in line.split(","):
            for pair in element.split(";"):
                name, _, value = pair.strip().partition("=")
                if name.lower() == "for":
                    yield value.strip().strip('"')
