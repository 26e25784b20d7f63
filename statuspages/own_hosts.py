"""The product's own host names, which no status page may take as its custom host.

``statuspages.hosts.CustomHostMiddleware`` answers every request whose Host is a page's custom host from that
page's URLs alone: a page given the product's own name would have replaced the whole product (sign-in, the
dashboards, the API, the admin) with one team's status page, for every team. The product's names are the host
of ``SITE_URL`` (the address people open it at) and of each ``DJANGO_CSRF_TRUSTED_ORIGINS`` entry naming one
host (a wildcard entry names other sites' subdomains too, a page's among them). Without ``SITE_URL`` the
product cannot tell its own name from a page's, so a custom host is refused until it is set.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


def site_host() -> str:
    """``SITE_URL``'s host name, lowercase; "" when it is unset."""
    return _host(str(settings.SITE_URL or ""))


def own_hosts() -> frozenset[str]:
    """Every host name the product answers on by configuration (lowercase, no port)."""
    return _own_hosts(str(settings.SITE_URL or ""), tuple(settings.CSRF_TRUSTED_ORIGINS))


@lru_cache(maxsize=8)
def _own_hosts(site_url: str, trusted_origins: tuple[str, ...]) -> frozenset[str]:
    """``own_hosts`` of these settings: the middleware asks on every request with a dotted host, so the URLs are
    parsed once per value of the settings. Keyed on the values, read on each call, an override (a test's
    ``settings`` fixture, ``override_settings``) is seen at once without a ``setting_changed`` receiver."""
    hosts = {_host(site_url)}
    hosts.update(_host(origin) for origin in trusted_origins if "*" not in origin)
    return frozenset(hosts - {""})


def refusal(custom_host: str) -> str | None:
    """Why ``custom_host`` (lowercase, no port) may not be a page's custom host, or None when it may."""
    if not site_host():
        return (
            "Set SITE_URL (the address people open this product at) before giving a page a custom host: "
            "without it the product cannot tell its own host name from a page's."
        )
    if custom_host in own_hosts():
        return "This is the product's own host name (SITE_URL, DJANGO_CSRF_TRUSTED_ORIGINS): a page cannot take it."
    return None
