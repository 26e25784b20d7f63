"""The client's IP address for rate limits (login lockout, the API) and the audit.

REMOTE_ADDR, or the entry a trusted proxy wrote.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _meta_name(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def client_ip(request: HttpRequest) -> str:
    """The address rate limits key on.

    Without ``CLIENT_IP_HEADER`` it is REMOTE_ADDR. Behind proxies, each appends the address it saw to
    X-Forwarded-For, so the client is the entry ``TRUSTED_PROXY_COUNT`` from the right: entries further
    left were written by the client itself and could be forged to dodge the limit.
    """
    # An empty REMOTE_ADDR (a Unix socket) counts as one client: this is a rate-limit key, not a bind address.
    remote = str(request.META.get("REMOTE_ADDR") or "0.0.0.0")  # noqa: S104  # nosec B104
    header = settings.CLIENT_IP_HEADER
    if not header:
        return remote
    raw = str(request.META.get(_meta_name(header), ""))
    entries = [item.strip() for item in raw.split(",") if item.strip()]
    if len(entries) < settings.TRUSTED_PROXY_COUNT:
        return remote
    candidate = entries[-settings.TRUSTED_PROXY_COUNT]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
