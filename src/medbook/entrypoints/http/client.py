"""The address of the client that sent a request, for throttling.

The socket's peer (``REMOTE_ADDR``) is the client, unless it is one of the operator's trusted
reverse proxies (``MEDBOOK_TRUSTED_PROXIES``). Then ``X-Forwarded-For`` is read from the right:
each trusted proxy appends the address it received the request from, so the right-most entry that
is not a trusted proxy is the first address no trusted party vouches for beyond — the client as
far as anyone can tell. Entries to its left were written by the client and may be anything.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(
    remote_addr: str | None,
    forwarded_for: str | None,
    trusted_proxies: Sequence[IPNetwork],
) -> str | None:
    """The client's address as text, or None when the peer's address is unknown."""
    peer = _address(remote_addr)
    if peer is None:
        return remote_addr or None
    if not _trusted(peer, trusted_proxies) or not forwarded_for:
        return str(peer)
    hops = [_address(entry) for entry in forwarded_for.split(",")]
    for hop in reversed([h for h in hops if h is not None]):
        if not _trusted(hop, trusted_proxies):
            return str(hop)
    # Every hop is a trusted proxy (an internal caller): the left-most of them is the client.
    return str(next((h for h in hops if h is not None), peer))


def from_trusted_proxy(remote_addr: str | None, trusted_proxies: Sequence[IPNetwork]) -> bool:
    """Whether the socket's peer is one of the trusted reverse proxies, whose ``X-Forwarded-*``
    headers may be believed (a peer whose address is unknown or malformed is not)."""
    return within(remote_addr, trusted_proxies)


def within(text: str | None, networks: Sequence[IPNetwork]) -> bool:
    """Whether an address (as a peer or a header entry gives it) is in one of ``networks``; a
    malformed one is in none."""
    address = _address(text)
    return address is not None and _trusted(address, networks)


def names_someone(forwarded_for: str) -> bool:
    """Whether an ``X-Forwarded-For`` value holds at least one well-formed address."""
    return any(_address(entry) is not None for entry in forwarded_for.split(","))


def _address(text: str | None) -> IPAddress | None:
    """An address from a header entry, or None when it is malformed (``unknown``, garbage)."""
    if not text:
        return None
    entry = text.strip()
    if entry.startswith("[") and "]" in entry:  # "[2001:db8::1]:443"
        entry = entry[1 : entry.index("]")]
    elif entry.count(":") == 1:  # "203.0.113.7:51234"
        entry = entry.split(":")[0]
    try:
        address = ipaddress.ip_address(entry)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, trusted_proxies: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in trusted_proxies)


__all__ = ["client_address", "from_trusted_proxy", "names_someone", "within"]
