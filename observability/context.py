"""Correlation ids for logs: the request id of an HTTP request, the poll id of a poll.

Both live in context variables, so they follow the code through threads started by asgiref and
through asyncio tasks, and every log line written meanwhile carries them as ``request_id`` /
``poll_id`` (``ContextFilter`` on the log handler; the JSON formatter writes them as fields).
The poller binds its poll id around each poll::

    from observability.context import bind_poll_id

    with bind_poll_id(poll_id):
        ...  # fetch, record, publish: every log line here has poll_id
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
poll_id_var: ContextVar[str | None] = ContextVar("poll_id", default=None)

# What we accept from a client's X-Request-ID: short, printable, no spaces, nothing to inject into a log.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


def new_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(candidate: str | None) -> str:
    """The client's id when it is safe to log and echo, else a fresh one."""
    if candidate and _SANE_ID.match(candidate):
        return candidate
    return new_id()


def current_request_id() -> str | None:
    return request_id_var.get()


def current_poll_id() -> str | None:
    return poll_id_var.get()


@contextmanager
def bind_request_id(request_id: str) -> Iterator[str]:
    token = request_id_var.set(request_id)
    try:
        yield request_id
    finally:
        request_id_var.reset(token)


@contextmanager
def bind_poll_id(poll_id: str | None = None) -> Iterator[str]:
    """Bind ``poll_id`` (a new one when None) for the duration of one poll; yields the id."""
    value = poll_id or new_id()
    token = poll_id_var.set(value)
    try:
        yield value
    finally:
        poll_id_var.reset(token)


def poll_meta(**extra: Any) -> dict[str, Any]:
    """The poll metadata a store write carries: the bound poll id plus whatever the caller adds."""
    meta: dict[str, Any] = {}
    poll_id = poll_id_var.get()
    if poll_id:
        meta["poll_id"] = poll_id
    meta.update(extra)
    return meta


class ContextFilter(logging.Filter):
    """Stamp each record with the bound ids (wired on the console handler in settings.LOGGING).

    A handler filter rather than a record factory: it runs after ``extra=`` is applied, so a caller
    logging ``extra={"poll_id": ...}`` itself keeps working (a factory would make that a KeyError).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = request_id_var.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        poll_id = poll_id_var.get()
        if poll_id is not None and not hasattr(record, "poll_id"):
            record.poll_id = poll_id
        return True
