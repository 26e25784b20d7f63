"""JSON text for people, with bounded work: pretty-printed, deep containers collapsed, cut at a size.

``json.dumps(indent=2)`` of an upstream document 900 levels deep with 50,000 items at the bottom
produced 91 MB (50,000 lines of up to 1,800 spaces) and half a gigabyte of server memory per view.
Here the document is written by an explicit stack (no recursion, whatever the depth), containers
deeper than ``max_depth`` are shown as ``[… 50000 items]`` / ``{… 3 keys}``, and writing stops
once ``max_bytes`` are out. The same writer streams the compact form for the download link.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.html import escape

from metrics.jsonlimits import JsonBudget, JsonBudgetError, check_value

STREAM_CHUNK = 64 * 1024
# Shallow enough for json.dumps's C encoder (one C-level recursion per level) from any view.
_C_ENCODER_SAFE = JsonBudget(max_bytes=0, max_depth=100)
_encode_string = json.encoder.encode_basestring_ascii


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return str(_encode_string(value))
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return json.dumps(value)  # NaN and infinities never get stored (the store refuses them)
    return str(_encode_string(str(value)))


class _Writer:
    """Yields the JSON text of a value piece by piece; counts the containers it collapsed."""

    def __init__(self, indent: int | None, max_depth: int | None, sort_keys: bool) -> None:
        self.indent = indent
        self.max_depth = max_depth
        self.sort_keys = sort_keys
        self.collapsed = 0

    def _newline(self, depth: int) -> str:
        return "" if self.indent is None else "\n" + " " * (self.indent * depth)

    def _open(self, value: Any, depth: int) -> tuple[str, Iterator[Any] | None, bool]:
        """The text that starts ``value`` at ``depth``, and an iterator over its members when it has any."""
        if isinstance(value, Mapping):
            if not value:
                return "{}", None, True
            if self.max_depth is not None and depth >= self.max_depth:
                self.collapsed += 1
                return f"{{… {len(value)} key{'s' if len(value) != 1 else ''}}}", None, True
            items = sorted(value.items(), key=lambda kv: str(kv[0])) if self.sort_keys else value.items()
            return "{", iter(items), True
        if isinstance(value, list | tuple):
            if not value:
                return "[]", None, False
            if self.max_depth is not None and depth >= self.max_depth:
                self.collapsed += 1
                return f"[… {len(value)} item{'s' if len(value) != 1 else ''}]", None, False
            return "[", iter(value), False
        return _scalar(value), None, False

    def write(self, value: Any) -> Iterator[str]:
        key_separator = ":" if self.indent is None else ": "
        text, members, is_mapping = self._open(value, 0)
        yield text
        # Each frame: members still to write, whether it is an object, its members' depth, written any yet.
        stack: list[list[Any]] = [[members, is_mapping, 1, False]] if members is not None else []
        while stack:
            frame = stack[-1]
            iterator, in_mapping, depth, started = frame
            item: Any = next(iterator, _END)
            if item is _END:
                stack.pop()
                yield self._newline(depth - 1) + ("}" if in_mapping else "]")
                continue
            prefix = ("," if started else "") + self._newline(depth)
            frame[3] = True
            if in_mapping:
                prefix += _scalar(str(item[0])) + key_separator
                item = item[1]
            text, members, is_mapping = self._open(item, depth)
            yield prefix + text
            if members is not None:
                stack.append([members, is_mapping, depth + 1, False])


_END = object()


@dataclass(frozen=True)
class Rendered:
    text: str
    truncated: bool  # writing stopped at max_bytes
    collapsed: int  # containers shown as a count, past max_depth
    size: int  # bytes of ``text``


def render(
    value: Any,
    *,
    max_bytes: int,
    max_depth: int | None = None,
    indent: int | None = 2,
    sort_keys: bool = True,
    html: bool = False,
) -> Rendered:
    """The JSON text of ``value`` within ``max_bytes`` (of HTML-escaped text when ``html``)."""
    writer = _Writer(indent, max_depth, sort_keys)
    transform: Callable[[str], str] = (lambda piece: str(escape(piece))) if html else (lambda piece: piece)
    parts: list[str] = []
    size = 0
    truncated = False
    for piece in writer.write(value):
        out = transform(piece)
        length = len(out.encode())
        if size + length > max_bytes:
            head = out.encode()[: max_bytes - size].decode(errors="ignore")
            cut = head.rfind("&")
            if html and cut >= 0 and ";" not in head[cut:]:  # never leave half an entity (&quot;) at the cut
                head = head[:cut]
            parts.append(head)
            size += len(head.encode())
            truncated = True
            break
        parts.append(out)
        size += length
    return Rendered("".join(parts), truncated, writer.collapsed, size)


def stream_compact(value: Any, chunk_size: int = STREAM_CHUNK) -> Iterator[bytes]:
    """The compact JSON of ``value`` as it is stored (keys in stored order), in chunks of about ``chunk_size``."""
    try:
        check_value(value, _C_ENCODER_SAFE)
    except JsonBudgetError:
        pass  # deep: the C encoder recurses per level, so the explicit stack below writes it
    else:
        text = json.dumps(value, separators=(",", ":")).encode()
        for start in range(0, len(text), chunk_size):
            yield text[start : start + chunk_size]
        return
    buffer: list[str] = []
    buffered = 0
    for piece in _Writer(None, None, sort_keys=False).write(value):
        buffer.append(piece)
        buffered += len(piece)
        if buffered >= chunk_size:
            yield "".join(buffer).encode()
            buffer, buffered = [], 0
    if buffer:
        yield "".join(buffer).encode()


def short(value: Any, limit: int) -> str:
    """Compact JSON of ``value`` cut to ``limit`` characters with an ellipsis: for one-line displays."""
    rendered = render(value, max_bytes=limit * 4 + 4, indent=None, sort_keys=True)
    text = rendered.text
    return text if len(text) <= limit and not rendered.truncated else text[: limit - 1] + "…"
