"""A decoded body to a JSON object: its charset, its byte-order mark, and a nesting limit checked first.

``json.loads`` recurses once per nesting level, so 200,000 ``[`` raise ``RecursionError`` from
deep inside the parser (and a payload just under the interpreter's limit would overflow every
recursive walker after it: diff, hashing, copies). ``nesting_depth`` measures the depth without
recursing, skipping over strings and their escapes, and the parser only sees a body within
``POLLER_MAX_JSON_DEPTH``.

Errors are ``BodyError`` with a short ``kind``: ``bad_charset``, ``too_deep``, ``not_json``,
``not_object``.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any

# A JSON string (escapes included) or one bracket. Strings are matched whole so brackets inside them
# do not count. The closing quote is optional: an unterminated string runs to the end of the text
# instead of being retried from every later quote, so the scan stays linear whatever the input.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
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

    Iterative, and brackets inside strings do not count. For malformed JSON the answer may be
    off, which only decides whether the error says too_deep or not_json.
    """
    # Cheap bound first: a document cannot nest deeper than its number of opening brackets.
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for match in _TOKEN.finditer(text):
        first = match.group()[0]
        if first in "[{":
            depth += 1
            if depth > limit:
                return True
        elif first in "]}":
            depth -= 1
    return False


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
