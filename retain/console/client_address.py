"""Which address a request comes from, behind trusted proxies only. Pure.

``X-Forwarded-For`` is a claim anyone can send, so it is read only when the connection itself
comes from a configured proxy (``settings.trusted_proxies``: addresses or networks). Then the
list is walked from the right (the entry our own proxy appended) past further trusted proxies;
the first address that is not one of ours is the client. Anything unparsable stops the walk.

>>> proxies = networks(["10.0.0.0/8"])
>>> client_address("10.0.0.5", "198.51.100.1, 10.0.0.9", proxies)
'198.51.100.1'
>>> client_address("192.0.2.9", "198.51.100.1", proxies)  # not from a proxy: the header is ignored
'192.0.2.9'
>>> throttle_address("2001:db8:1:2:3:4:5:6")  # one IPv6 host owns a whole /64
'2001:db8:1:2::/64'
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Parse configured proxies (``10.0.0.5``, ``10.0.0.0/8``, ``fd00::/8``); ValueError names a bad one."""
    parsed = []
    for value in values:
        try:
            parsed.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"trusted_proxies: {value!r} is not an IP address or network") from None
    return tuple(parsed)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(value: str, proxies: Sequence[Network]) -> bool:
    ip = _ip(value)
    return ip is not None and any(ip in net for net in proxies)


def client_address(peer: str | None, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """The client's address: the peer, or the nearest untrusted ``X-Forwarded-For`` entry behind our proxies."""
    address = peer or "unknown"
    if not forwarded_for or not _trusted(address, proxies):
        return address
    for entry in reversed(forwarded_for.split(",")):
        if _ip(entry) is None:
            break  # a forged or broken entry: keep the last address we could vouch for
        address = entry.strip()
        if not _trusted(address, proxies):
            break
    return address


def throttle_address(address: str) -> str:
    """The unit login throttling counts: the address itself, or its /64 for IPv6."""
    ip = _ip(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is the IPv4 host itself
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip) if ip is not None else address[:64]
