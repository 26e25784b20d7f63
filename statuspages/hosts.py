"""Serving a status page at ``/`` of its own host name (``StatusPage.custom_host``).

Django's ``ALLOWED_HOSTS`` check comes first: a Host not listed there is refused as anywhere else, so a
page's custom host must be added to ``DJANGO_ALLOWED_HOSTS`` too. A request whose host is a page's
custom host is resolved against ``statuspages.host_urls`` (the page's public URLs at the root) instead
of the project's URLs: nothing else of the product answers on that name. The product's own names
(statuspages/own_hosts.py) are never a page's, so no team can put its page in place of the product.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port

from statuspages import lookup, own_hosts

HOST_URLCONF = "statuspages.host_urls"


def request_host(request: HttpRequest) -> str:
    """The request's host name, lowercase without port; "" when Django would refuse it."""
    try:
        host = request.get_host()
    except DisallowedHost:
        return ""
    domain, _port = split_domain_port(host)
    return domain.lower().rstrip(".")


def could_be_custom(host: str) -> bool:
    """Whether ``host`` has the shape of a custom host (``models.HOST_NAME``): a dotted name ending in a
    letter. An IP address, localhost or a bare name is never looked up, so most requests cost nothing."""
    if "." not in host:
        return False
    last = host.rsplit(".", 1)[1]
    return bool(last) and last[0].isalpha()


class CustomHostMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        host = request_host(request)
        # Never the product's own name, even for a page that took it before that was refused (statuspages/own_hosts.py).
        page = lookup.by_host(host) if could_be_custom(host) and host not in own_hosts.own_hosts() else None
        if page is not None:
            request.urlconf = HOST_URLCONF  # type: ignore[attr-defined]
            request.status_page_host = page  # type: ignore[attr-defined]
        return self.get_response(request)
