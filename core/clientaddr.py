"""The client's real address behind our own proxies.

Behind Caddy every request comes from Caddy's address. ``X-Forwarded-For`` names the client,
but anyone can send that header: it is believed only when the connection comes from a
configured proxy network (``TRUSTED_PROXIES``), and only as far as the chain of trusted hops
goes. Walking the list from the right, the first address that is not one of our proxies is
the client; whatever it claims further left is its own say-so.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket: one client, one spelling.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_trusted_proxy(peer: str, trusted: Sequence[Network]) -> bool:
    address = _address(peer)
    return address is not None and any(address in network for network in trusted)


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The address of the client behind ``peer`` (the socket's other end)."""
    if not forwarded_for or not is_trusted_proxy(peer, trusted):
        return peer
    client = str(_address(peer))
    for entry in reversed(forwarded_for.split(",")):
        address = _address(entry)
        if address is None:
            # Garbage added by a trusted hop's client: the last hop we trust is all we know.
            break
        client = str(address)
        if not any(address in network for network in trusted):
            break
    return client


def parse_networks(values: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip())
