"""Which addresses a webhook POST may connect to: global unicast ones, and loopback when allowed.

A registered URL names a host; what it resolves to is up to whoever controls its DNS, and
can change between two lookups (DNS rebinding). So the sender judges every address the
host resolves to, at connect time, with these rules (``adapters.webhook_egress``): an
organisation's URL must not reach this machine, the deployment's private network, or
the cloud's metadata service (169.254.169.254, link-local).

IPv6 addresses that carry an IPv4 address to which the packets end up going are judged
by that IPv4 address: IPv4-mapped (``::ffff:127.0.0.1`` is loopback to a dual-stack
socket), NAT64's well-known prefix (``64:ff9b::/96``, what DNS64 answers on an IPv6-only
network: the gateway connects to the embedded address) and 6to4 (``2002::/16``).
Python's own ``is_global`` has changed between versions (multicast counts as global on
3.11, IPv4-mapped addresses as reserved), hence the explicit checks.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT, RFC 6598
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052


def refusal(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why a POST must not connect to ``address`` (a few words), or None if it may."""

    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return refusal(embedded, allow_loopback=allow_loopback)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return None if allow_loopback else "loopback"
    if address.is_link_local:
        return "link-local"  # 169.254.169.254: cloud metadata, credentials included
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in SHARED_ADDRESS_SPACE:
        return "shared (carrier-grade NAT)"
    if address.is_private:
        return "private"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "non-global"
    if isinstance(address, ipaddress.IPv6Address) and address.sixtofour is not None:
        return refusal(address.sixtofour, allow_loopback=False)  # a 6to4 relay delivers to it
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
