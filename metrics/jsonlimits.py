"""JSON budgets: size, nesting depth and item count, checked without recursion before anything parses.

The one home of the project's JSON limits: the budgets of every reader below, and the upstream
document's own reading (charset, byte-order mark, ``POLLER_MAX_JSON_DEPTH``) at the end, which the
poller's fetcher calls (``parse_object``).

``json.loads`` recurses once per nesting level (in C, on the interpreter's recursion counter), so a
60 KB document of ``[[[[...`` raises ``RecursionError`` at a depth that depends on how deep the
caller's own stack already is. Every JSON reader of the project (upstream documents, API bodies,
WebSocket messages, import files) therefore measures the text first with ``measure``, which only
runs regular expressions and C-level loops, and parses only what fits its ``JsonBudget``. A value
that is already decoded (a document read back from a store) is measured by ``check_value``, which
walks it with an explicit stack.

Each reader has its own size (its existing byte limit) and shares ``JSON_MAX_DEPTH`` and
``JSON_MAX_ITEMS``; the budgets are built by the ``*_budget`` functions below so that every reader
takes them from one place. docs/security.md lists them. Upstream documents keep their own depth
setting, ``POLLER_MAX_JSON_DEPTH`` (docs/polling.md, structure limits).
"""

from __future__ import annotations

import codecs
import json
import re
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from django.conf import settings

# A JSON string, escapes included; unrolled so that long strings are matched without backtracking.
# The closing quote is optional: an unterminated string runs to the end of the text instead of being
# retried from every later quote, so the scan stays linear whatever the input (brackets after it are
# then inside the string and do not count; such a text fails the parser anyway).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_SPACE = re.compile(r"\s+")
# Anything that is not structure: numbers, literals, colons, the placeholder left by strings.
_SCALARS = re.compile(r"[^\[\]{},]+")
# An opening bracket followed by something else than its closing one: a container with members.
_NON_EMPTY = re.compile(r"[\[{](?=[^\]}])")
# Depth steps: openings +1, closings -1 (as signed bytes), everything else 0.
_STEPS = bytes.maketrans(b"[{]},0", b"\x01\x01\xff\xff\x00\x00")


class JsonBudgetError(ValueError):
    """The document is over its budget. ``kind`` is ``too_large``, ``too_deep`` or ``too_many_items``.

    A ValueError, so that a reader which already turns bad JSON into a clear error does the same
    here; the message names the limit and the setting that tunes it.
    """

    def __init__(self, kind: str, message: str, limit: int) -> None:
        super().__init__(message)
        self.kind = kind
        self.limit = limit


@dataclass(frozen=True)
class JsonBudget:
    max_bytes: int
    max_depth: int
    max_items: int | None = None
    what: str = "the document"  # named in error messages: "the request body", "the message"
    size_setting: str = ""  # the setting that tunes max_bytes, named in the error
    depth_setting: str = "JSON_MAX_DEPTH"  # the setting that tunes max_depth, named in the error
    items_setting: str = "JSON_MAX_ITEMS"  # the setting that tunes max_items, named in the error


@dataclass(frozen=True)
class Shape:
    """What ``measure`` found: UTF-8 size, deepest nesting, and members plus elements of all containers."""

    size: int
    depth: int
    items: int


def measure(text: str | bytes) -> Shape:
    """The shape of a JSON text, without parsing it. Invalid JSON gets some shape; the parser refuses it later."""
    if isinstance(text, bytes | bytearray):
        size = len(text)
        text = bytes(text).decode("utf-8", errors="replace")
    else:
        size = len(text.encode("utf-8", errors="surrogatepass"))
    skeleton = _SCALARS.sub("0", _SPACE.sub("", _STRING.sub("0", text)))
    steps = array("b", skeleton.encode("ascii").translate(_STEPS))
    depth = max(accumulate(steps), default=0)
    items = skeleton.count(",") + len(_NON_EMPTY.findall(skeleton))
    return Shape(size=size, depth=max(depth, 0), items=items)


def check_text(text: str | bytes, budget: JsonBudget) -> Shape:
    """Raise JsonBudgetError when ``text`` is over ``budget``; return its shape otherwise."""
    size = len(text) if isinstance(text, bytes | bytearray) else None
    if size is not None and size > budget.max_bytes:
        raise _too_large(budget)  # before measuring: measuring costs in proportion to the size
    if size is None and len(text) > budget.max_bytes:  # characters never outnumber UTF-8 bytes
        raise _too_large(budget)
    shape = measure(text)
    if shape.size > budget.max_bytes:
        raise _too_large(budget)
    _check_shape(shape.depth, shape.items, budget)
    return shape


def loads(text: str | bytes, budget: JsonBudget, **options: Any) -> Any:
    """``json.loads`` for a text that ``check_text`` accepted. JSON errors propagate as ``ValueError``."""
    check_text(text, budget)
    return json.loads(text, **options)


def check_value(value: Any, budget: JsonBudget) -> None:
    """Depth and item budget of an already decoded value, walked with an explicit stack (no size check)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    items = 0
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children: Any = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        if depth > budget.max_depth:
            raise _too_deep(budget)
        items += len(children)
        if budget.max_items is not None and items > budget.max_items:
            raise _too_many(budget)
        stack.extend((child, depth + 1) for child in children if isinstance(child, Mapping | list | tuple))


def _check_shape(depth: int, items: int, budget: JsonBudget) -> None:
    if depth > budget.max_depth:
        raise _too_deep(budget)
    if budget.max_items is not None and items > budget.max_items:
        raise _too_many(budget)


def _too_large(budget: JsonBudget) -> JsonBudgetError:
    tuned = f" ({budget.size_setting})" if budget.size_setting else ""
    message = f"{budget.what} is larger than {budget.max_bytes} bytes{tuned}"
    return JsonBudgetError("too_large", message, budget.max_bytes)


def _too_deep(budget: JsonBudget) -> JsonBudgetError:
    message = f"{budget.what} nests deeper than {budget.max_depth} levels ({budget.depth_setting})"
    return JsonBudgetError("too_deep", message, budget.max_depth)


def _too_many(budget: JsonBudget) -> JsonBudgetError:
    limit = int(budget.max_items or 0)
    message = f"{budget.what} has more than {limit} items ({budget.items_setting})"
    return JsonBudgetError("too_many_items", message, limit)


# --- The budgets of the project's JSON readers -------------------------------------------------


def upstream_budget() -> JsonBudget:
    """A polled document: at most POLLER_MAX_BODY_BYTES decoded, nested at most POLLER_MAX_JSON_DEPTH."""
    return JsonBudget(
        settings.POLLER_MAX_BODY_BYTES,
        settings.POLLER_MAX_JSON_DEPTH,
        settings.JSON_MAX_ITEMS,
        "the upstream document",
        "POLLER_MAX_BODY_BYTES",
    )


def api_body_budget() -> JsonBudget:
    """A JSON request body of the HTTP API."""
    return JsonBudget(
        settings.API_MAX_BODY_BYTES, settings.JSON_MAX_DEPTH, settings.JSON_MAX_ITEMS, "the body", "API_MAX_BODY_BYTES"
    )


def websocket_budget() -> JsonBudget:
    """A client message on ``ws/metrics/``."""
    return JsonBudget(
        settings.REALTIME_MAX_MESSAGE_BYTES,
        settings.JSON_MAX_DEPTH,
        settings.JSON_MAX_ITEMS,
        "the message",
        "REALTIME_MAX_MESSAGE_BYTES",
    )


def import_record_budget() -> JsonBudget:
    """One line of an export file or an archive, derived from what the store accepts, so that every line the
    export writes (metrics.lifecycle.records.history_lines checks each one against this very budget) imports.

    What the store holds is bounded by: a payload's size, ``METRICS_MAX_PAYLOAD_BYTES`` (the store refuses
    more); its nesting, ``POLLER_MAX_JSON_DEPTH`` (the poller, the store's only writer, refuses deeper
    documents; the API's bodies keep to ``JSON_MAX_DEPTH``); its item count, by its size only (the poller
    counts nesting, not items; a JSON text holds at most an item per two bytes, ``0,``).

    A line holds one payload (a latest snapshot, a history entry) with its metrics and a few fields, or one
    part of a diff too wide for its entry's line: at least one change, whose path and old value are one
    payload's text at most and whose new value another's. Hence twice a payload and room for the fields;
    items: one per two bytes of two payloads; depth: the payload's, plus the record's own levels (record >
    diff > change > old/new). Three payloads rather than two keep importable every line earlier versions
    wrote. A diff of many changes is written over several lines, each within this budget, so a diff's
    width never makes a line the import refuses.
    """
    payload = settings.METRICS_MAX_PAYLOAD_BYTES
    json_depth, poller_depth = settings.JSON_MAX_DEPTH, settings.POLLER_MAX_JSON_DEPTH
    items_by_size = payload + 1024
    return JsonBudget(
        3 * payload + 64 * 1024,
        max(json_depth, poller_depth) + 4,
        max(3 * settings.JSON_MAX_ITEMS, items_by_size),
        "the record",
        "METRICS_MAX_PAYLOAD_BYTES",
        "JSON_MAX_DEPTH" if json_depth >= poller_depth else "POLLER_MAX_JSON_DEPTH",
        "JSON_MAX_ITEMS" if items_by_size <= 3 * settings.JSON_MAX_ITEMS else "METRICS_MAX_PAYLOAD_BYTES",
    )


# --- Upstream documents: a decoded body to a JSON object (the poller's fetcher) ---------------------
# ``json.loads`` recurses once per nesting level, so 200,000 ``[`` raise ``RecursionError`` from deep
# inside the parser (and a payload just under the interpreter's limit would overflow every recursive
# walker after it: diff, hashing, copies). The nesting is measured first (``exceeds_depth``) and the
# parser only sees a body within the depth limit. Errors are ``BodyError`` with a short ``kind``:
# ``bad_charset``, ``too_deep``, ``not_json``, ``not_object`` (the poll's error kind).

_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([^\";\s]+)", re.IGNORECASE)
# Longest first: the UTF-32-LE mark begins with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class BodyError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def charset_of(content_type: str | None) -> str | None:
    match = _CHARSET.search(content_type or "")
    return match.group(1).lower() if match else None


def decode_text(body: bytes, charset: str | None) -> str:
    """The body as text: a byte-order mark wins, then the declared charset, else JSON's own detection.

    Without a mark or a charset, ``json.detect_encoding`` reads UTF-8 (the default) and tells
    UTF-16 and UTF-32 apart by where the zero bytes are, as RFC 4627 describes.
    """
    for mark, encoding in _BOMS:
        if body.startswith(mark):
            body, charset = body[len(mark) :], encoding
            break
    else:
        if charset is None:
            charset = json.detect_encoding(body)
    try:
        codec = codecs.lookup(charset)
    except LookupError:
        raise BodyError("bad_charset", f"the body's charset {charset[:40]!r} is unknown") from None
    try:
        return body.decode(codec.name)
    except UnicodeDecodeError as exc:
        raise BodyError("bad_charset", f"the body is not valid {codec.name} (byte {exc.start})") from None


def exceeds_depth(text: str, limit: int) -> bool:
    """True when arrays and objects in ``text`` nest more than ``limit`` deep (``{}`` is depth 1).

    ``measure``'s depth (iterative; brackets inside strings do not count). For malformed JSON the
    answer may be off, which only decides whether the error says too_deep or not_json.
    """
    # Cheap bound first: a document cannot nest deeper than its number of opening brackets.
    if text.count("[") + text.count("{") <= limit:
        return False
    return measure(text).depth > limit


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_object(body: bytes, content_type: str | None, max_depth: int) -> dict[str, Any]:
    """Parse a decoded body as a JSON object, or raise ``BodyError``. Never recurses past ``max_depth``."""
    text = decode_text(body, charset_of(content_type))
    if exceeds_depth(text, max_depth):
        raise BodyError("too_deep", f"the body nests more than {max_depth} levels deep (POLLER_MAX_JSON_DEPTH)")
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:  # not reachable within the depth limit; kept so no body can ever raise it
        raise BodyError("too_deep", "the body nests too deeply to parse") from None
    except ValueError as exc:
        message = str(exc) if "not valid JSON" in str(exc) else "the body is not JSON"
        raise BodyError("not_json", message) from None
    if not isinstance(document, dict):
        raise BodyError("not_object", f"the body is a JSON {type(document).__name__}, not an object")
    return document
