"""The SSRF guard: a source URL may only lead the poller to public addresses.

An IPv6 address is judged by the IPv4 address it wraps too (6to4, Teredo, NAT64, IPv4-mapped,
-compatible and -translated, ISATAP): ``[2002:a9fe:a9fe::]`` is 169.254.169.254 through a relay.
Allowlist entries may name a port, so a demo simulator on loopback does not open every loopback port.

Checked when a source is saved and again on every request, hop by hop, because DNS answers
change: a name that resolved to a public address at save time may resolve to 169.254.169.254
later. ``resolve_target`` returns the addresses it checked, and the fetcher connects to one of
those (``PinnedAdapter``) instead of letting the HTTP library look the name up a second time.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

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


# IPv6 forms that carry an IPv4 address the packet may end up at (RFC 6052, 3056, 4380, 4291, 5214).
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")  # where the IPv4 sits depends on the local prefix length
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_ISATAP_IDS = (0x00005EFE, 0x02005EFE)


def embedded_ipv4(address: IPAddress) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address wraps, each with the name of its form; empty for IPv4."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    value = int(address)
    low32 = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        found.append(("IPv4-mapped", address.ipv4_mapped))
    if address.sixtofour is not None:
        found.append(("6to4", address.sixtofour))
    if address.teredo is not None:
        server, client = address.teredo
        found += [("Teredo", server), ("Teredo", client)]
    if address in NAT64_WELL_KNOWN:
        found.append(("NAT64", low32))
    if address in IPV4_COMPATIBLE and value > 1:  # :: and ::1 are themselves, not wrappers
        found.append(("IPv4-compatible", low32))
    if address in IPV4_TRANSLATED:
        found.append(("IPv4-translated", low32))
    if (value >> 32) & 0xFFFFFFFF in _ISATAP_IDS:
        found.append(("ISATAP", low32))
    return found


def forbidden_reason(address: IPAddress) -> str | None:
    """Why the poller must not connect to ``address``, or None when it is a public address."""
    for form, wrapped in embedded_ipv4(address):
        # 2002:a9fe:a9fe:: is 169.254.169.254 through a 6to4 relay: judge what it wraps.
        reason = forbidden_reason(wrapped)
        if reason is not None:
            return f"{reason} ({wrapped}) in {form} form"
    if address in NAT64_LOCAL_USE:
        return "a local-use NAT64 address"
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


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]+)):(?P<port>\d{1,5})$")


class Allowlist:
    """``POLLER_ALLOWED_PRIVATE_HOSTS``: entries let through despite the rules.

    An entry is a host name, an IP address or CIDR range (every port), or either of the first two
    with a port (``127.0.0.1:8001``, ``[::1]:8001``, ``simulator:8001``): that port only. Prefer the
    port form: an address allowed on every port also opens its Redis, database and admin ports.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        self.hostnames: set[str] = set()
        self.networks: list[Network] = []
        self.host_ports: set[tuple[str, int]] = set()
        self.network_ports: list[tuple[Network, int]] = []
        for entry in entries:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            match = _HOST_PORT.match(entry)
            if match is None:
                self.hostnames.add(entry.rstrip("."))
                continue
            host, port = match.group("v6") or match.group("host"), int(match.group("port"))
            if not 0 < port < 65536:
                raise ValueError(f"{entry!r}: the port must be from 1 to 65535")
            try:
                self.network_ports.append((ipaddress.ip_network(host, strict=False), port))
            except ValueError:
                self.host_ports.add((host.rstrip("."), port))

    @classmethod
    def from_settings(cls) -> Allowlist:
        return cls(settings.POLLER_ALLOWED_PRIVATE_HOSTS)

    def allows_host(self, host: str, port: int | None = None) -> bool:
        name = host.lower().rstrip(".")
        return name in self.hostnames or (port is not None and (name, port) in self.host_ports)

    def allows_address(self, address: IPAddress, port: int | None = None) -> bool:
        if any(address in network for network in self.networks):
            return True
        return port is not None and any(address in net and port == allowed for net, allowed in self.network_ports)


# The upstream simulator's control API (pollers/simulator/server.py). The simulator is reachable
# only through the allowlist, and a port entry cannot tell its status paths from its control paths,
# so an allowlisted target is never fetched under this prefix: not saved, not followed on a redirect.
CONTROL_PATH_PREFIX = "/_control"


def normalized_path(path: str) -> str:
    """The path as a server that decodes and normalizes it would route it: ``/%5Fcontrol/../x`` included."""
    for _ in range(3):  # double encoding (%255F) takes more than one round
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    normalized = posixpath.normpath("/" + path.replace("\\", "/"))
    return "/" + normalized.lstrip("/")


def is_control_path(path: str) -> bool:
    normalized = normalized_path(path).lower()
    return normalized == CONTROL_PATH_PREFIX or normalized.startswith(CONTROL_PATH_PREFIX + "/")


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

    if host in METADATA_HOSTNAMES and not allowlist.allows_host(host, port):
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

    allowlisted = False
    if allowlist.allows_host(host, port):
        allowlisted = True
    else:
        for text in addresses:
            address = ipaddress.ip_address(text)
            reason = forbidden_reason(address)
            if reason and not allowlist.allows_address(address, port):
                # Refuse if any answer is forbidden: a name mixing public and private answers is an attack.
                where = f"{host} is" if literal is not None else f"{host} resolves to {address},"
                raise UnsafeURLError(
                    "forbidden_address", f"{where} {reason} (allow it with POLLER_ALLOWED_PRIVATE_HOSTS)"
                )
            allowlisted = allowlisted or reason is not None
    if allowlisted and is_control_path(parts.path):
        # The same kind as an address refusal: it is the same decision, about where a request may go.
        message = f"{CONTROL_PATH_PREFIX}/ is the simulator's control API, never polled"
        raise UnsafeURLError("forbidden_address", message)
    return Target(url=url.strip(), scheme=scheme, host=host, port=port, addresses=tuple(addresses))


class PinnedAdapter(HTTPAdapter):
    """Connects to the address in the URL while TLS still names and verifies the original host.

    The fetcher rewrites ``https://example.com/x`` to ``https://93.184.216.34:443/x`` with
    ``Host: example.com``; this adapter puts the Host name back as the TLS server name (SNI) and
    as the name the certificate must match, so pinning the address weakens nothing.
    """

    def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
        attributes: Any = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params, pool_kwargs = attributes
        host_header = request.headers.get("Host")
        if host_params.get("scheme") == "https" and host_header:
            name = urlsplit(f"//{host_header}").hostname or ""
            try:
                ipaddress.ip_address(name)
            except ValueError:
                pool_kwargs["server_hostname"] = name
                pool_kwargs["assert_hostname"] = name
        return host_params, pool_kwargs
