"""Request headers and the URL of a source, checked when it is saved: what cannot be sent is refused there.

A value with CR or LF (or any other control character) cannot go on the wire: every poll would
then fail, or worse, the value would split into a second header. Names must be HTTP tokens
(RFC 9110 section 5.1), values visible characters, spaces and tabs (section 5.5). A URL may hold no
control character at all, tab included (RFC 3986 allows none): the HTTP client would percent-encode or drop
it, so the poller would ask for another URL than the one shown, and PostgreSQL refuses a NUL outright.
Used by the model's ``clean()`` (so the admin, the dashboard's form, configuration files and every
``full_clean`` caller, the API included), the admin form, and the rules of a source's password or token
(``pollers.source_secrets``), which go into the Authorization header.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from django.core.exceptions import ValidationError

MAX_HEADERS = 50
MAX_NAME_LENGTH = 256
# A header goes on the wire as one line, "Name: value", and most servers refuse a line over 8 KiB (nginx's
# large_client_header_buffers of 8 KiB, Apache's LimitRequestFieldSize of 8190 bytes): every poll would fail. The
# cap counts the whole line as sent, in bytes: http.client encodes names and values as Latin-1 (one byte a
# character; header_value_problem refuses anything beyond it), so a Latin-1 letter counts one byte, not two.
MAX_HEADER_LINE_BYTES = 8192
# A source's password or token goes into the Authorization header, and most servers refuse a header line over
# 8 KiB (nginx's large_client_header_buffers, Apache's LimitRequestFieldSize of 8190 bytes): every poll would fail.
# 4 KiB (UTF-8) keeps the line under that for Basic too, whose base64 grows the username (at most 200 characters,
# the model's limit) and the password by a third.
MAX_SECRET_BYTES = 4096
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# C0 controls except horizontal tab, and DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# In a URL and a Basic credential: every C0 control, tab included, DEL and the C1 controls.
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _described(character: str) -> str:
    return {
        "\r": "a carriage return (CR)",
        "\n": "a line feed (LF)",
        "\t": "a tab",
        "\x00": "a NUL character",
    }.get(character, f"the control character U+{ord(character):04X}")


def url_problem(url: str) -> str | None:
    """Why this URL cannot be polled as written (a control character in it), or None."""
    bad = _ANY_CONTROL.search(url)
    if bad is None:
        return None
    character = bad.group()
    return (
        f"The URL contains {_described(character)} (character {bad.start() + 1}): control characters cannot be "
        f"sent in a URL. Remove it, or write it percent-encoded ({quote(character)}) if the upstream expects it."
    )


def header_value_problem(value: str) -> str | None:
    """Why ``value`` cannot go on the wire as a header value, or None: the one rule for header values, a source's
    headers and its Bearer token alike. Worded without the value, which may be a secret ("contains a line feed
    (LF)")."""
    bad = _CONTROL.search(value)
    if bad is not None:
        return f"contains {_described(bad.group())}"
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return "has characters HTTP headers cannot carry (beyond Latin-1)"
    return None


def basic_credential_problem(value: str) -> str | None:
    """Why ``value`` cannot be a Basic user-id or password, or None. It travels base64-encoded as UTF-8, so any
    letter goes; RFC 7617 (section 2) allows no control character, tab included: a pasted line break is never
    part of a password, and the upstream would refuse every poll."""
    bad = _ANY_CONTROL.search(value)
    if bad is not None:
        return f"contains {_described(bad.group())}"
    return None


def secret_length_problem(secret: str) -> str | None:
    """Why a password or token is too long to send (``MAX_SECRET_BYTES``), or None; worded with its size alone."""
    size = len(secret.encode("utf-8", "surrogatepass"))  # a lone surrogate (JSON allows one) is counted, not raised
    if size <= MAX_SECRET_BYTES:
        return None
    return (
        f"is {size} bytes long, over the {MAX_SECRET_BYTES} allowed: it is sent in the Authorization header, which "
        "most servers refuse over 8 KiB"
    )


def basic_username_problem(username: str) -> str | None:
    """Why ``username`` cannot be a Basic user-id, or None: the upstream reads up to the first colon as the user-id,
    so one in it would send the rest as the password."""
    if not username:
        return "HTTP Basic needs a username."
    if ":" in username:
        return "A Basic username cannot contain a colon (RFC 7617): the upstream would take the rest for the password."
    problem = basic_credential_problem(username)
    return None if problem is None else f"The username {problem}: HTTP Basic allows no control character (RFC 7617)."


def header_problem(name: Any, value: Any) -> str | None:
    """Why this header cannot be sent, or None."""
    if not isinstance(name, str) or not isinstance(value, str):
        return "header names and values must be strings"
    shown = json.dumps(name[:60])
    if not _TOKEN.match(name):
        bad = _CONTROL.search(name)
        if bad is not None:
            return f"header name {shown} contains {_described(bad.group())}"
        return f"header name {shown} is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)"
    if len(name) > MAX_NAME_LENGTH:
        return f"header name {shown} is longer than {MAX_NAME_LENGTH} characters"
    problem = header_value_problem(value)
    if problem is not None:
        return f"the value of header {shown} {problem}"
    size = header_line_bytes(name, value)
    if size > MAX_HEADER_LINE_BYTES:
        return (
            f'header {shown} is {size} bytes on the wire (name, ": " and value), over the {MAX_HEADER_LINE_BYTES} '
            "bytes a header line may take: most servers refuse a longer one"
        )
    return None


def header_line_bytes(name: str, value: str) -> int:
    """The size of the line ``name: value`` as the poller sends it: Latin-1, as http.client encodes headers."""
    return len(f"{name}: {value}".encode("latin-1"))


def validate_request_headers(headers: Any) -> None:
    """Raise ValidationError (one message per bad header) unless ``headers`` can be sent as they are."""
    if not isinstance(headers, dict):
        raise ValidationError("Headers must be a JSON object of header names to values.")
    if len(headers) > MAX_HEADERS:
        raise ValidationError(f"At most {MAX_HEADERS} headers.")
    problems = [problem for name, value in headers.items() if (problem := header_problem(name, value)) is not None]
    if problems:
        raise ValidationError([problem[:1].upper() + problem[1:] + "." for problem in problems])
