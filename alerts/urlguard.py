"""SSRF guard for webhook URLs: the pollers' guard (pollers/ssrf.py), so sources and webhooks obey one rule.

http(s) only; no loopback, private, link-local, reserved or cloud-metadata address, nor an IPv6
form wrapping one (6to4, Teredo, NAT64...), unless allowed by ``POLLER_ALLOWED_PRIVATE_HOSTS``
(host names, CIDRs, or host:port for one port); no credentials in the URL. Checked when
a channel is saved and again before every send, because DNS can change; a send connects to the
address that was checked (``PinnedAdapter``: no second lookup, TLS still verifies the host name).
"""

from __future__ import annotations

import threading

import requests

from pollers.ssrf import PinnedAdapter, Target, UnsafeURLError, resolve_target

_local = threading.local()


class UnsafeURL(ValueError):
    """The URL may not be requested; the message says why, without echoing the URL's path."""


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def check_url(url: str) -> None:
    """At save time: refuse what can never be sent. A name that does not resolve yet is accepted
    (the send-time check is the one that counts), so a channel can be set up before DNS is."""
    try:
        resolve_target(url)
    except UnsafeURLError as exc:
        if exc.kind != "dns":
            raise UnsafeURL(_sentence(str(exc))) from None


def target_for(url: str) -> Target:
    """At send time: where to connect, or UnsafeURL."""
    try:
        return resolve_target(url)
    except UnsafeURLError as exc:
        raise UnsafeURL(_sentence(str(exc))) from None


def session() -> requests.Session:
    """One pinned session per sender thread: pooled connections, no proxy from the environment."""
    current: requests.Session | None = getattr(_local, "session", None)
    if current is None:
        current = requests.Session()
        current.trust_env = False
        adapter = PinnedAdapter(max_retries=0)
        current.mount("http://", adapter)
        current.mount("https://", adapter)
        _local.session = current
    return current
