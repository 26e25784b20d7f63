"""The product's own host names, which no status page may take as its custom host.

``statuspages.hosts.CustomHostMiddleware`` answers every request whose Host is a page's custom host from that
page's URLs alone: a page given the product's own name would have replaced the whole product (sign-in, the
dashboards, the API, the admin) with one team's status page, for every team. The product's names are the host
of ``SITE_URL`` (the address people open it at) and of each ``DJANGO_CSRF_TRUSTED_ORIGINS`` entry naming one
host (a wildcard entry names other sites' subdomains too, a page's among them). Without ``SITE_URL`` the
product cannot tell its own name from a page's, so a custom host is refused until it is set.
"""

from __future__ import annotations

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
    hosts = {site_host()}
    hosts.update(_host(origin) for origin in settings.CSRF_TRUSTED_ORIGINS if "*" not in origin)
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
