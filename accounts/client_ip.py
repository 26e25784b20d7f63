"""The client's IP address for rate limits (login lockout, the API, status pages) and the audit.

REMOTE_ADDR, or the entry a trusted proxy wrote. Rate limits count by ``rate_limit_key``: an IPv4 address, or
an IPv6 address's /64 network, since one subscriber or host is handed a whole /64 and could take a new
address for every request.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

# The IPv6 prefix one client is assumed to hold (RFC 6177's customary end-site /64; allauth's own default for its
# per-IP login limits, RATE_LIMIT_IPV6_PREFIX).
IPV6_CLIENT_PREFIX = 64


def _meta_name(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def _plain(address: str) -> str:
    """An address in its one spelling: an IPv4 client that a dual-stack socket reports as ``::ffff:a.b.c.d`` is
    ``a.b.c.d`` (so it is one client for the limits and the audit, not a member of IPv6's ``::/64``)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)


def client_ip(request: HttpRequest) -> str:
    """The client's address.

    Without ``CLIENT_IP_HEADER`` it is REMOTE_ADDR. Behind proxies, each appends the address it saw to
    X-Forwarded-For, so the client is the entry ``TRUSTED_PROXY_COUNT`` from the right: entries further
    left were written by the client itself and could be forged to dodge the limit.
    """
    # An empty REMOTE_ADDR (a Unix socket) counts as one client: this is a rate-limit key, not a bind address.
    remote = _plain(str(request.META.get("REMOTE_ADDR") or "0.0.0.0"))  # noqa: S104  # nosec B104
    header = settings.CLIENT_IP_HEADER
    if not header:
        return remote
    raw = str(request.META.get(_meta_name(header), ""))
    entries = [item.strip() for item in raw.split(",") if item.strip()]
    if len(entries) < settings.TRUSTED_PROXY_COUNT:
        return remote
    candidate = entries[-settings.TRUSTED_PROXY_COUNT]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return remote
    return _plain(candidate)


def rate_limit_key(request: HttpRequest) -> str:
    """The client as rate limits count it: an IPv4 address as it is, an IPv6 address by its /64 network
    (``2001:db8:1:2::/64``). Anything that is not an address (a Unix socket's name) is counted as it is."""
    address = client_ip(request)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, IPV6_CLIENT_PREFIX), strict=False))
    return address
