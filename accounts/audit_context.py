"""Who is acting right now, for the audit trail, without any view passing it along.

``AuditContextMiddleware`` keeps the current request in a context variable for the duration of the request;
the audit trail (accounts/audit_trail.py) reads the actor from it when a model signal fires: the signed-in
user, or the API token's owner and prefix (``api.access`` leaves the principal on the request). Outside a
request the actor is a named system actor: the label given to ``acting_as`` (a command or a worker can name
itself), else ``command:<name>`` under ``manage.py``, else ``system``.

A context variable, not a thread local: under ASGI a request's sync code may run on any worker thread, and
asgiref carries context variables across those hops.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from django.http import HttpRequest, HttpResponseBase

_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)
_actor: ContextVar[str | None] = ContextVar("audit_actor", default=None)

SYSTEM = "system"
_MANAGE_SCRIPTS = ("manage.py", "django-admin", "django-admin.py")


class AuditContextMiddleware:
    """Makes the request the audit trail's source of who and from where (after authentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def current_request() -> HttpRequest | None:
    return _request.get()


@contextmanager
def acting_as(label: str) -> Iterator[None]:
    """Changes made inside are recorded as done by ``label`` (e.g. ``"command:seed_demo"``), outside a request."""
    token = _actor.set(label)
    try:
        yield
    finally:
        _actor.reset(token)


def system_actor() -> str:
    """The actor of a change made outside a request."""
    named = _actor.get()
    if named:
        return named
    if len(sys.argv) > 1 and Path(sys.argv[0]).name in _MANAGE_SCRIPTS:
        return f"command:{sys.argv[1]}"[:254]
    return SYSTEM
