"""The WebSocket protocol's client messages: decoding and validation, without any I/O.

docs/websocket-protocol.md is the reference; every rule here is stated there. A message that breaks
a rule raises ``ProtocolError`` with a code from ``ErrorCode``, which the consumer turns into an
``error`` message; nothing stored and no other connection is affected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from metrics import jsonlimits
from metrics.jsonlimits import JsonBudget, JsonBudgetError

ALL = "all"
MAX_SLUGS_PER_MESSAGE = 500
_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
_HASH = re.compile(r"^[0-9a-fA-F]{8,128}$")
MAX_ID_LENGTH = 64


class ErrorCode(StrEnum):
    BAD_JSON = "bad_json"  # not JSON, or not a JSON object
    BAD_MESSAGE = "bad_message"  # a field is missing or has the wrong shape
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_SOURCE = "unknown_source"
    MESSAGE_TOO_LARGE = "message_too_large"
    MESSAGE_TOO_DEEP = "message_too_deep"  # nested past JSON_MAX_DEPTH, or more than JSON_MAX_ITEMS items
    RATE_LIMITED = "rate_limited"
    BINARY_NOT_SUPPORTED = "binary_not_supported"
    UNAVAILABLE = "unavailable"  # the store or channel layer failed; retry after retry_after_ms
    INTERNAL_ERROR = "internal_error"


class ProtocolError(Exception):
    def __init__(
        self, code: ErrorCode, message: str, request_id: str | int | None = None, retry_after_ms: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after_ms = retry_after_ms

    def as_message(self) -> dict[str, Any]:
        return error_message(self.code, self.message, self.request_id, self.retry_after_ms)


def error_message(
    code: ErrorCode, message: str, request_id: str | int | None = None, retry_after_ms: int | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "code": str(code), "message": message}
    if request_id is not None:
        body["id"] = request_id
    if retry_after_ms is not None:
        body["retry_after_ms"] = retry_after_ms
    return body


@dataclass(frozen=True)
class Known:
    """What a client already has for a source: the hash, and the sequence when it sent one."""

    hash: str
    sequence: int | None = None


@dataclass(frozen=True)
class Subscribe:
    sources: tuple[str, ...] | None  # None: all sources, including ones added later
    known: dict[str, Known] = field(default_factory=dict)
    id: str | int | None = None


@dataclass(frozen=True)
class Unsubscribe:
    sources: tuple[str, ...] | None  # None: everything
    id: str | int | None = None


@dataclass(frozen=True)
class Get:
    source: str | None  # None: every source
    id: str | int | None = None


@dataclass(frozen=True)
class History:
    source: str
    start: datetime | None
    end: datetime | None
    limit: int
    cursor: str | None
    include_payload: bool
    id: str | int | None = None


@dataclass(frozen=True)
class Ping:
    """An application-level heartbeat: answered at once with ``pong``, so a client can tell a live server
    from a frozen one (a stopped process keeps the TCP connection open and never closes it)."""

    id: str | int | None = None


Request = Subscribe | Unsubscribe | Get | History | Ping


def decode(text: str, budget: JsonBudget | None = None) -> dict[str, Any]:
    """The message as a dict. Measured against its JSON budget first: ``json.loads`` recurses per level."""
    try:
        message = jsonlimits.loads(text, budget or jsonlimits.websocket_budget())
    except JsonBudgetError as exc:
        code = ErrorCode.MESSAGE_TOO_LARGE if exc.kind == "too_large" else ErrorCode.MESSAGE_TOO_DEEP
        raise ProtocolError(code, str(exc)) from None
    except ValueError:
        raise ProtocolError(ErrorCode.BAD_JSON, "the message is not valid JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError(ErrorCode.BAD_JSON, 'a message is a JSON object with a "type"')
    return message


def parse(message: dict[str, Any], history_max_limit: int) -> Request:
    request_id = _request_id(message)
    kind = message.get("type")
    try:
        if kind == "subscribe":
            return Subscribe(
                sources=_sources(message, "sources", required=True),
                known=_known(message.get("known")),
                id=request_id,
            )
        if kind == "unsubscribe":
            return Unsubscribe(sources=_sources(message, "sources", required=False), id=request_id)
        if kind == "get":
            source = message.get("source", ALL)
            return Get(source=None if source == ALL else _slug(source, "source"), id=request_id)
        if kind == "history":
            return _history(message, history_max_limit, request_id)
        if kind == "ping":
            return Ping(id=request_id)
    except ProtocolError as exc:
        exc.request_id = request_id
        raise
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, '"type" must be a string', request_id)
    raise ProtocolError(
        ErrorCode.UNKNOWN_TYPE,
        f"unknown type {kind[:40]!r}; expected subscribe, unsubscribe, get, history or ping",
        request_id,
    )


def _request_id(message: dict[str, Any]) -> str | int | None:
    value = message.get("id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, '"id" must be a string or an integer')
    if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f'"id" is longer than {MAX_ID_LENGTH} characters')
    return value


def _slug(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _SLUG.match(value):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f'"{name}" must be a source slug (letters, digits, - and _)')
    return value


def _sources(message: dict[str, Any], name: str, *, required: bool) -> tuple[str, ...] | None:
    if name not in message:
        if required:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, f'"{name}" is required: a list of source slugs or "all"')
        return None
    value = message[name]
    if value == ALL:
        return None
    if not isinstance(value, list) or not value:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f'"{name}" must be a non-empty list of source slugs or "all"')
    if len(value) > MAX_SLUGS_PER_MESSAGE:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f'"{name}" lists more than {MAX_SLUGS_PER_MESSAGE} sources')
    # dict.fromkeys keeps the client's order and drops repeats.
    return tuple(dict.fromkeys(_slug(item, name) for item in value))


def _known(value: Any) -> dict[str, Known]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_SLUGS_PER_MESSAGE:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, '"known" must be an object of source slug to hash')
    known: dict[str, Known] = {}
    for slug, entry in value.items():
        _slug(slug, "known")
        if isinstance(entry, str) and _HASH.match(entry):
            known[slug] = Known(hash=entry)
        elif (
            isinstance(entry, dict)
            and isinstance(entry.get("hash"), str)
            and _HASH.match(entry["hash"])
            and (entry.get("sequence") is None or _is_int(entry["sequence"]))
        ):
            known[slug] = Known(hash=entry["hash"], sequence=entry.get("sequence"))
        else:
            raise ProtocolError(
                ErrorCode.BAD_MESSAGE, f'"known.{slug}" must be a hash or {{"hash": ..., "sequence": ...}}'
            )
    return known


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _timestamp(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f'"{name}" must be an ISO 8601 timestamp string')
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f'"{name}" is not an ISO 8601 timestamp') from None
    # A timestamp without an offset is read as UTC, the zone every timestamp we send is in.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _history(message: dict[str, Any], max_limit: int, request_id: str | int | None) -> History:
    source = _slug(message.get("source"), "source")
    start = _timestamp(message.get("from"), "from")
    end = _timestamp(message.get("to"), "to")
    if start is not None and end is not None and start > end:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, '"from" is after "to"')
    limit = message.get("limit", 50)
    if not _is_int(limit) or not 1 <= limit <= max_limit:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f'"limit" must be an integer from 1 to {max_limit}')
    cursor = message.get("cursor")
    if cursor is not None and (not isinstance(cursor, str) or len(cursor) > 200):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, '"cursor" must be the next_cursor of a previous history page')
    include_payload = message.get("include_payload", False)
    if not isinstance(include_payload, bool):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, '"include_payload" must be true or false')
    return History(source, start, end, limit, cursor, include_payload, request_id)
