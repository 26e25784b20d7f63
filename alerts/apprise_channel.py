"""Apprise channels: which Apprise URLs are allowed, the hosts they name, masking, and the send.

Apprise opens its own connections, so a URL is checked before it is stored and again right
before every send: its scheme must be on the allowlist (vendor services; the generic ``json://``,
``xml://``, ``form://`` only with ``APPRISE_ALLOW_GENERIC``), and every host it names must pass
the SSRF guard (``alerts.urlguard``, the pollers' rule). Nothing here writes a URL, a token or a
password to a log line or an error message: errors name the scheme and host at most.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise
from django.conf import settings

from alerts.urlguard import UnsafeURL, check_url, target_for

log = logging.getLogger("alerts.apprise")

GENERIC_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})
# Vendor services (and their self-hostable servers, whose host is checked like any other).
VENDOR_SCHEMES = frozenset(
    {
        "slack",
        "discord",
        "tgram",
        "workflow",
        "workflows",
        "pagerduty",
        "opsgenie",
        "pagertree",
        "splunk",
        "victorops",
        "pover",
        "ntfy",
        "ntfys",
        "matrix",
        "matrixs",
        "gotify",
        "gotifys",
        "mmost",
        "mmosts",
        "rocket",
        "rockets",
        "zulip",
        "gchat",
        "wxteams",
        "webex",
        "pbul",
        "line",
        "lark",
        "feishu",
        "dingtalk",
        "wecombot",
        "signal",
        "signals",
        "twilio",
        "ifttt",
    }
)
# Query parameters through which a plugin may be pointed at a server of the user's choice.
_HOST_PARAMETERS = frozenset({"host", "hostname", "server", "url", "base_url", "baseurl"})
_DNS_NAME = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\.?$")


class AppriseURLError(ValueError):
    """The Apprise URL may not be used; the message names the scheme or host, never a secret."""


@dataclass(frozen=True)
class Checked:
    scheme: str
    hosts: tuple[str, ...]  # host or host:port, each passed the SSRF guard
    display: str  # scheme://host, what the admin and logs show


@cache
def _supported_schemes() -> frozenset[str]:
    details = apprise.Apprise().details()
    found: set[str] = set()
    for schema in details["schemas"]:
        found.update(schema.get("protocols") or ())
        found.update(schema.get("secure_protocols") or ())
    return frozenset(found)


def allowed_schemes() -> frozenset[str]:
    allowed = VENDOR_SCHEMES | (GENERIC_SCHEMES if settings.APPRISE_ALLOW_GENERIC else frozenset())
    return allowed & _supported_schemes()


def scheme_of(url: str) -> str:
    return url.partition("://")[0].strip().lower() if "://" in url else ""


def _instantiate(url: str) -> Any:
    # Apprise logs a bad URL itself, with the URL: keep its logger quiet (settings.LOGGING) and ask quietly.
    return apprise.Apprise.instantiate(url, suppress_exceptions=True)


def _looks_like_host(value: str) -> bool:
    if not value:
        return False
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return bool(_DNS_NAME.match(value)) or value.lower() == "localhost"
    return True


def _named_host(scheme: str, plugin: Any) -> str | None:
    """The server the URL's authority names, if it names one (a vendor URL's authority is a token)."""
    host = str(getattr(plugin, "host", "") or "")
    self_hosted = scheme in GENERIC_SCHEMES or getattr(plugin, "protocol", None) is not None
    if not host or not (self_hosted or _looks_like_host(host)):
        return None
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    port = getattr(plugin, "port", None)
    return f"{host}:{port}" if port else host


def _host_url(host: str, secure: bool) -> str:
    return f"{'https' if secure else 'http'}://{host}/"


def named_hosts(url: str) -> tuple[str, list[str]]:
    """The scheme and every host:port the URL names (authority and host-like query parameters)."""
    scheme = scheme_of(url)
    plugin = _instantiate(url)
    if plugin is None:
        raise AppriseURLError(f"Apprise cannot read this {scheme or 'scheme-less'} URL (check its format).")
    hosts: list[str] = []
    host = _named_host(scheme, plugin)
    if host:
        hosts.append(host)
    query = urlsplit(url).query
    for key, value in parse_qsl(query, keep_blank_values=False):
        if key.lower() not in _HOST_PARAMETERS:
            continue
        value = unquote(value).strip()
        candidate = urlsplit(value).netloc if "://" in value else value
        candidate = candidate.rpartition("@")[2]
        if candidate:
            hosts.append(candidate)
    return scheme, hosts


def _secure(url: str) -> bool:
    plugin = _instantiate(url)
    return bool(getattr(plugin, "secure", False))


def check(url: str, at_send: bool = False) -> Checked:
    """Scheme on the allowlist and every named host past the SSRF guard, or AppriseURLError.

    At save a host that does not resolve yet is accepted (the send-time check is the one that
    counts); at send it is refused, as for webhooks.
    """
    scheme = scheme_of(url)
    if not scheme:
        raise AppriseURLError("An Apprise URL starts with its service's scheme, e.g. slack:// or ntfys://.")
    allowed = allowed_schemes()
    if scheme not in allowed:
        if scheme in GENERIC_SCHEMES:
            raise AppriseURLError(
                f"The generic {scheme}:// channel is off here (APPRISE_ALLOW_GENERIC=true allows it)."
            )
        raise AppriseURLError(f"The Apprise scheme {scheme}:// is not on the allowlist.")
    scheme, hosts = named_hosts(url)
    if not at_send:
        # Apprise reports one outcome for all of a URL's targets: after a failure of one, the retry goes to
        # every target again, and those that got it get it twice. One target per channel retries only what
        # failed. (A URL stored before this rule still sends: refusing it at send would lose its alerts.)
        plugin = _instantiate(url)
        targets = len(plugin) if plugin is not None else 1
        if targets > 1:
            raise AppriseURLError(
                f"This {scheme}:// URL names {targets} targets. A failed send is retried to all of them, so "
                "one that got it would get it again: create one channel per target."
            )
    secure = _secure(url)
    for host in hosts:
        probe = _host_url(host, secure)
        try:
            if at_send:
                target_for(probe)
            else:
                check_url(probe)
        except UnsafeURL as exc:
            raise AppriseURLError(f"{scheme}:// host {urlsplit(probe).hostname}: {exc}") from None
    shown = urlsplit(_host_url(hosts[0], secure)).hostname if hosts else ""
    return Checked(scheme=scheme, hosts=tuple(hosts), display=f"{scheme}://{shown}" if shown else f"{scheme}://")


def secrets_of(url: str) -> list[str]:
    """Every part of the URL that may be a credential, to scrub from any text Apprise hands back."""
    parts = urlsplit(url)
    found: list[str] = []
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo:
        found += [unquote(p) for p in userinfo.split(":") if p]
    plugin = _instantiate(url)
    if plugin is not None and not _named_host(scheme_of(url), plugin):
        found.append(unquote(parts.netloc.rpartition("@")[2]))  # a vendor URL's authority is a token
    found += [unquote(segment) for segment in parts.path.split("/") if segment]
    found += [unquote(value) for _, value in parse_qsl(parts.query) if value]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "****")
    return text


class AppriseSendError(Exception):
    """The send failed; the message has been scrubbed of the URL's secrets."""


def send(url: str, title: str, body: str, notify_type: str) -> None:
    """Check the URL again and send through Apprise, or raise AppriseSendError / AppriseURLError."""
    check(url, at_send=True)
    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise AppriseURLError(f"Apprise cannot read this {scheme_of(url)} URL.")
    # Apprise hands back what it logged during this call (its own logger stays out of the process's
    # logs: settings.LOGGING), which may name the URL: the reason kept is scrubbed of its secrets.
    result = notifier.notify(
        title=title,
        body=body,
        notify_type=notify_type,
        body_format=apprise.NotifyFormat.TEXT,
        log_level=logging.WARNING,
    )
    if result:
        return
    messages = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR", "CRITICAL")]
    reason = "; ".join(scrub(message, secrets_of(url)) for message in messages[-2:]) or "no reason given"
    raise AppriseSendError(f"apprise {scheme_of(url)}:// failed: {reason}"[:400])
