"""Django's request signals: the request id is bound for the whole handler, not only the middleware chain."""

from __future__ import annotations

from typing import Any

from django.core.signals import request_finished, request_started
from django.dispatch import receiver

from observability.context import request_id_var, sane_request_id


@receiver(request_started, dispatch_uid="observability.bind_request_id")
def bind_request_id(
    sender: Any, environ: dict[str, Any] | None = None, scope: dict[str, Any] | None = None, **kwargs: Any
) -> None:
    """Bind the request id for the whole handler, not only the middleware chain.

    Django logs some responses (a 4xx/5xx a middleware replaced) after the middleware chain has
    returned; binding here, when the request starts, puts the id on those lines too. The
    middleware then adopts this id rather than making another.
    """
    header: str | None = None
    if environ is not None:
        header = environ.get("HTTP_X_REQUEST_ID")
    elif scope is not None:
        for name, value in scope.get("headers", ()):
            if name.lower() == b"x-request-id":
                header = value.decode("latin-1")
                break
    request_id_var.set(sane_request_id(header))


@receiver(request_finished, dispatch_uid="observability.unbind_request_id")
def unbind_request_id(sender: Any, **kwargs: Any) -> None:
    request_id_var.set(None)
