"""The SSRF guard: a source URL may only lead the poller to public addresses.

Checked when a source is saved and again on every request, hop by hop, because DNS answers
change: a name that resolved to a public address at save time may resolve to 169.254.169.254
later. ``resolve_target`` returns the addresses it checked, and the fetcher connects to one of
those (``PinnedAdapter``) instead of letting the HTTP library look the name up a second time.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from requests.adapters import HTTPAdapter

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# Cloud metadata services: named explicitly so they stay refused whatever the stdlib thinks of them.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
METADATA_HOSTNAMES = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})


class UnsafeURLError(ValueError):
    """The URL may not be fetched. ``kind`` is a short machine-readable reason."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``addresses``) and what to call the server (``host``)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"

    def pinned_url(self, address: str) -> str:
        """The URL with the host replaced by ``address``: what the adapter actually connects to."""
        parts = urlsplit(self.url)
        literal = f"[{address}]" if ":" in address else address
        return parts._replace(netloc=f"{literal}:{self.port}").geturl()


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for info in infos:
        seen[str(info[4][0]).split("%", 1)[0]] = None
    return list(seen)


def forbidden_reason(address: IPAddress) -> str | None:
    """Why the poller must not connect to ``address``, or None when it is a public address."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
        return forbidden_reason(mapped)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private address"),
    )
    for attribute, reason in checks:
        if getattr(address, attribute):
            return reason
    if not address.is_global:  # shared address space (100.64/10), documentation ranges, ...
        return "not a public address"
    return None


class Allowlist:
    """``POLLER_ALLOWED_PRIVATE_HOSTS``: host names and CIDR ranges let through despite the rules."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.hostnames: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self.hostnames.add(entry.rstrip("."))

    @classmethod
    def from_settings(cls) -> Allowlist:
        return cls(settings.POLLER_ALLOWED_PRIVATE_HOSTS)

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hostnames

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def resolve_target(url: str, allowlist: Allowlist | None = None, resolver: Resolver = system_resolver) -> Target:
    """Check ``url`` and return where it may be fetched from; raise UnsafeURLError otherwise."""
    allowlist = allowlist if allowlist is not None else Allowlist.from_settings()
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UnsafeURLError("bad_url", "the URL is malformed") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURLError("bad_scheme", f"only http and https URLs can be polled, not {scheme or 'no scheme'!r}")
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeURLError("bad_url", "the URL has no host")
    if parts.username is not None or parts.password is not None:
        # Credentials in a URL end up in logs and error messages; headers are masked instead.
        raise UnsafeURLError("bad_url", "put credentials in a request header, not in the URL")
    port = port or (443 if scheme == "https" else 80)

    if host in METADATA_HOSTNAMES and not allowlist.allows_host(host):
        raise UnsafeURLError("forbidden_address", f"{host} is a cloud metadata service")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolver(host, port)
        except (OSError, UnicodeError):
            raise UnsafeURLError("dns", f"cannot resolve {host}") from None
        if not addresses:
            raise UnsafeURLError("dns", f"{host} has no address")

    if not allowlist.allows_host(host):
        for text in addresses:
            address = ipaddress.ip_address(text)
            reason = forbidden_reason(address)
            if reason and not allowlist.allows_address(address):
                # Refuse if any answer is forbidden: a name mixing public and private answers is an attack.
                where = f"{host} is" if literal is not None else f"{host} resolves to {address},"
                raise UnsafeURLError(
                    "forbidden_address", f"{where} {reason} (allow it with POLLER_ALLOWED_PRIVATE_HOSTS)"
                )
    return Target(url=url.strip(), scheme=scheme, host=host, port=port, addresses=tuple(addresses))


class PinnedAdapter(HTTPAdapter):
    """Connects to the address in the URL while TLS still names and verifies the original host.

    The fetcher rewrites ``https://example.com/x`` to ``https://93.184.216.34:443/x`` with
    ``Host: example.com``; this adapter puts the Host name back as the TLS server name (SNI) and
    as the name the certificate must match, so pinning the address weakens nothing.

    With ``ssl_context`` (a source's own CAs or client certificate, ``pollers.transport``) every
    connection uses that context, and the context alone says which CAs are trusted.
    """

    def __init__(self, *args: Any, ssl_context: Any = None, **kwargs: Any) -> None:
        self.ssl_context = ssl_context
        super().__init__(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        if self.ssl_context is not None:
            # Else urllib3 adds requests' default bundle to our context on every connection.
            conn.ca_certs = None
            conn.ca_cert_dir = None

    def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
        attributes: Any = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params, pool_kwargs = attributes
        if self.ssl_context is not None and host_params.get("scheme") == "https":
            pool_kwargs["ssl_context"] = self.ssl_context
        host_header = request.headers.get("Host")
        if host_params.get("scheme") == "https" and host_header:
            name = urlsplit(f"//{host_header}").hostname or ""
            try:
                ipaddress.ip_address(name)
            except ValueError:
                pool_kwargs["server_hostname"] = name
                pool_kwargs["assert_hostname"] = name
        return host_params, pool_kwargs
