"""SSRF guard for webhook URLs: only http(s), and never an internal address unless allowed.

Checked when a channel is saved and again before every send, because DNS can change. The
allowlist is the pollers' ``POLLER_ALLOWED_PRIVATE_HOSTS`` (host names or CIDRs): one list of
internal hosts the deployment trusts. Plain-http sends connect to the address that was checked
(no second lookup); https sends let requests resolve again, and rely on certificate
verification against a rebinding to an internal address.
TODO(pollers): switch to pollers/ssrf.py once it lands, so both paths share one guard.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """The URL may not be requested; the message says why, without echoing the URL's secrets."""


def _allowed(host: str, address: IPAddress | None) -> bool:
    for entry in getattr(settings, "POLLER_ALLOWED_PRIVATE_HOSTS", []) or []:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == host.lower():
            return True
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def _internal(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_url(url: str, resolve: bool = False) -> list[str]:
    """Refuse a non-http(s) or internal URL; with ``resolve``, return the checked addresses.

    Without ``resolve`` (at save time) a host name that does not resolve yet is accepted: the
    send-time check is the one that counts.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL("The URL is malformed.") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(f"Only http and https URLs are allowed, not {parts.scheme or 'none'}.")
    host = parts.hostname
    if not host:
        raise UnsafeURL("The URL has no host.")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if _internal(literal) and not _allowed(host, literal):
            raise UnsafeURL(f"{host} is an internal address (allow it with POLLER_ALLOWED_PRIVATE_HOSTS).")
        return [str(literal)]
    if not resolve:
        if host.lower() == "localhost" and not _allowed(host, None):
            raise UnsafeURL("localhost is internal (allow it with POLLER_ALLOWED_PRIVATE_HOSTS).")
        return []
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except OSError:
        raise UnsafeURL(f"The host {host} does not resolve.") from None
    addresses: list[str] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if _internal(address) and not _allowed(host, address):
            raise UnsafeURL(f"{host} resolves to an internal address (allow it with POLLER_ALLOWED_PRIVATE_HOSTS).")
        addresses.append(str(address))
    return addresses
