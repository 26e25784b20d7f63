"""Pure functions from a fetched payload to what the stores keep: canonical JSON, hash, diff, metrics.

Every store calls ``prepare()`` so that SQL and MongoDB agree byte for byte on what "changed" means.

Path syntax (metric paths and volatile paths): dot-separated segments into the payload.
- a segment names an object key, or indexes a list when it is a whole number (``-1`` is the last);
- ``*`` walks every element of a list (or every value of an object).
For a metric, the numbers found under a ``*`` are summed (``results.stats.server.workers.*.1.idle``
is the idle workers of all pools). Booleans count as 1.0/0.0 so that "service up" charts and
alerts like any number. A path that is missing or ends on something that is not a number leaves
the metric out: a payload of another shape is not an error.

Diff: objects are compared key by key and lists index by index, so a change deep inside a list
reads with the same path syntax as metrics (``results.stats.server.workers.0.1.idle: 2 -> 3``);
a longer or shorter list shows up as tail indexes ``added`` or ``removed``. A value that changes
type (object -> number, list -> null) is one ``changed`` entry holding both whole values.
Volatile paths are removed from both sides before hashing and diffing.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from metrics.stores.base import FieldChange, JsonObject, PayloadError, SourceSpec

WILDCARD = "*"
# "\u0000" in JSON text, not preceded by an escaped backslash ("\\u0000" is a literal backslash-u).
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


@dataclass(frozen=True)
class PreparedPayload:
    """A validated payload and everything derived from it, computed once per record()."""

    payload: JsonObject
    hash: str  # SHA1 of the canonical JSON with volatile paths removed
    metrics: dict[str, float]
    size_bytes: int  # of the canonical JSON, UTF-8
    # Made by prepare(), except for a document parsed from the same body as the source's last one
    # (``parsed_from``): then only a store that writes the text (a change) makes it, on first use.
    canonical_text: str | None = field(default=None, repr=False)

    @property
    def canonical(self) -> str:
        """Canonical JSON of the whole payload (volatile paths included)."""
        if self.canonical_text is None:
            object.__setattr__(self, "canonical_text", canonical_json(self.payload))
        assert self.canonical_text is not None
        return self.canonical_text


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, no NaN/Infinity: equal documents give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def validate_payload(payload: Any, max_bytes: int) -> str:
    """Return the payload's canonical JSON, or raise ``PayloadError`` saying what is wrong."""
    if not isinstance(payload, dict):
        raise PayloadError(f"payload must be a JSON object, got {_json_type(payload)}")
    try:
        text = canonical_json(payload)
    except ValueError as exc:
        # Only walk the payload to name the culprit when there is one: the happy path stays one dumps().
        bad = _first_non_finite(payload, "")
        if bad is None:
            raise PayloadError(f"payload is not valid JSON: {exc}") from None
        path, value = bad
        raise PayloadError(
            f"payload contains {value!r} at {path or '(root)'}; NaN and Infinity are not valid JSON"
        ) from None
    except TypeError as exc:
        raise PayloadError(f"payload is not JSON-serializable: {exc}") from None
    except RecursionError:
        raise PayloadError("payload is nested too deeply") from None
    if "\\u0000" in text and _NUL_ESCAPE.search(text):  # the substring test first: the regex is the slow part
        # PostgreSQL's jsonb cannot hold U+0000; refuse it everywhere so every store behaves alike.
        raise PayloadError("payload contains a NUL character (\\u0000), which cannot be stored")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        # A lone surrogate ("\ud800" unpaired) parses as JSON but is no Unicode text: no store can write it.
        raise PayloadError(
            "payload contains an unpaired surrogate escape (\\ud800-\\udfff), which cannot be stored"
        ) from None
    if size > max_bytes:
        raise PayloadError(f"payload is {size} bytes encoded, over the {max_bytes}-byte limit")
    return text


def validate_poll_meta(poll_meta: Any) -> JsonObject:
    """The poller's metadata for a record (latency, status code...): a JSON object, or empty."""
    if poll_meta is None:
        return {}
    if not isinstance(poll_meta, dict):
        raise PayloadError(f"poll_meta must be a JSON object, got {_json_type(poll_meta)}")
    try:
        canonical_json(poll_meta)
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"poll_meta is not valid JSON: {exc}") from None
    return dict(poll_meta)


def payload_hash(payload: JsonObject, volatile_paths: Sequence[str] = ()) -> str:
    stable = strip_paths(payload, volatile_paths) if volatile_paths else payload
    return hashlib.sha1(canonical_json(stable).encode("utf-8"), usedforsecurity=False).hexdigest()


def prepare(source: SourceSpec, payload: Any, max_bytes: int) -> PreparedPayload:
    parsed = _parsed.get()
    body = parsed[1] if parsed is not None and parsed[0] is payload else None
    if body is not None:
        known = _prepared_by_source.get(source.slug)
        if known is not None and known.matches(body, source, max_bytes):
            return PreparedPayload(payload, known.hash, dict(known.metrics), known.size_bytes)
    canonical = validate_payload(payload, max_bytes)
    encoded = canonical.encode("utf-8")
    content = hashlib.sha1(encoded, usedforsecurity=False).hexdigest()  # of the whole document
    # Without volatile paths the hash is that of the canonical JSON already made: no second dumps().
    digest = payload_hash(payload, source.volatile_paths) if source.volatile_paths else content
    prepared = PreparedPayload(
        payload=payload,
        hash=digest,
        metrics=_metrics_of(content, payload, source.metric_paths),
        size_bytes=len(encoded),
        canonical_text=canonical,
    )
    if body is not None:
        if len(_prepared_by_source) >= _PREPARED_BY_SOURCE_SIZE:
            _prepared_by_source.clear()
        _prepared_by_source[source.slug] = _Known(
            body,
            tuple(source.volatile_paths),
            tuple(source.metric_paths.items()),
            digest,
            dict(prepared.metrics),  # its own copy: receivers may change what they are handed
            prepared.size_bytes,
        )
    return prepared


# --- a document parsed from the same body as last time ------------------------------------------
# Most polls bring back the very bytes of the previous poll. The poller names the body a payload was
# parsed from (``parsed_from``: a digest of the decoded body and of what decides its parse, such as the
# charset); ``prepare`` then reuses what it derived from that body for the same source last time (hash,
# metrics, size) instead of serialising and hashing the document again. Same bytes, same parse, same
# canonical JSON: the stored hash keeps its definition (canonical JSON without volatile paths), and
# the store still compares it with the latest row. Only for the very payload object named (``is``),
# only within the block, so a payload built or changed elsewhere is always prepared in full.
_parsed: ContextVar[tuple[Any, str] | None] = ContextVar("extraction_parsed_from", default=None)
# One entry per source, replaced when its body changes (about 3 KB with the 18 default metric paths);
# emptied when full, the next polls refill it. More sources than this in one process only lose the reuse.
_PREPARED_BY_SOURCE_SIZE = 16_384


@dataclass(frozen=True)
class _Known:
    body: str
    volatile: tuple[Any, ...]
    paths: tuple[tuple[Any, Any], ...]
    hash: str
    metrics: dict[str, float]
    size_bytes: int

    def matches(self, body: str, source: SourceSpec, max_bytes: int) -> bool:
        # Every other check of validate_payload depends on the document alone; the size, on the limit.
        return (
            self.body == body
            and self.size_bytes <= max_bytes
            and self.volatile == tuple(source.volatile_paths)
            and self.paths == tuple(source.metric_paths.items())
        )


_prepared_by_source: dict[str, _Known] = {}


@contextmanager
def parsed_from(payload: JsonObject, body: str) -> Iterator[None]:
    """Within the block, ``prepare(source, payload, ...)`` may reuse what the same ``body`` gave ``source``.

    ``body`` identifies the bytes ``payload`` was parsed from (see above); "" names nothing.
    """
    token = _parsed.set((payload, body) if body else None)
    try:
        yield
    finally:
        _parsed.reset(token)


# The metrics last extracted per document (its whole content's SHA1, volatile paths included, and the
# metric paths): an unchanged document, the bulk of polls, reuses them instead of walking it again.
# Bounded; emptied when full rather than ordered, the next polls refill it. About one entry per source a
# poller serves is all it needs (an unchanged document finds its own last entry); 20,000 entries of
# changing documents held ~40 MiB and read as a leak in bench/memory.py (+21% RSS per 10,000 polls).
_METRICS_CACHE_SIZE = 2_048
_metrics_cache: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, float]] = {}


def _metrics_of(content: str, payload: JsonObject, metric_paths: Mapping[str, str]) -> dict[str, float]:
    paths = tuple(metric_paths.items())
    if not all(isinstance(name, str) and isinstance(path, str) for name, path in paths):
        return extract_metrics(payload, metric_paths)  # a hand-edited source: not worth a key
    key = (content, paths)
    cached = _metrics_cache.get(key)
    if cached is None:
        cached = extract_metrics(payload, metric_paths)
        if len(_metrics_cache) >= _METRICS_CACHE_SIZE:
            _metrics_cache.clear()
        _metrics_cache[key] = cached
    return dict(cached)  # a copy: receivers may not change what the next poll is handed


# --- paths ---------------------------------------------------------------------------------


def split_path(path: str) -> list[str]:
    return [segment for segment in path.strip().split(".") if segment != ""]


def _list_index(segment: str, length: int) -> int | None:
    try:
        index = int(segment)
    except ValueError:
        return None
    if index < 0:
        index += length
    return index if 0 <= index < length else None


def value_at(payload: Any, segments: Iterable[str], missing: Any = None) -> Any:
    """The value at a path (keys; a whole number indexes a list, -1 is the last), or ``missing``."""
    node = payload
    for segment in segments:
        if isinstance(node, Mapping):
            if segment not in node:
                return missing
            node = node[segment]
        elif isinstance(node, list):
            index = _list_index(segment, len(node))
            if index is None:
                return missing
            node = node[index]
        else:
            return missing
    return node


def strip_paths(payload: JsonObject, paths: Iterable[str]) -> JsonObject:
    """A deep copy of ``payload`` without the values at ``paths`` (missing paths are ignored)."""
    result = copy.deepcopy(payload)
    for path in paths:
        if not isinstance(path, str):
            continue
        segments = split_path(path)
        if segments:
            _remove(result, segments)
    return result


def _remove(node: Any, segments: list[str]) -> None:
    head, rest = segments[0], segments[1:]
    if isinstance(node, dict):
        keys = list(node) if head == WILDCARD else ([head] if head in node else [])
        for key in keys:
            if rest:
                _remove(node[key], rest)
            else:
                del node[key]
    elif isinstance(node, list):
        if head == WILDCARD:
            if rest:
                for item in node:
                    _remove(item, rest)
            else:
                node.clear()
            return
        index = _list_index(head, len(node))
        if index is None:
            return
        if rest:
            _remove(node[index], rest)
        else:
            # Removing shifts later elements; replace with null so indexes stay comparable.
            node[index] = None


# --- metrics -------------------------------------------------------------------------------


def extract_metrics(payload: JsonObject, metric_paths: Mapping[str, str]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for name, path in metric_paths.items():
        if not isinstance(name, str) or not isinstance(path, str):
            continue  # a hand-edited source with a non-text path: that metric is absent, polling goes on
        segments = _path_segments(path)
        if not segments:
            continue
        value = _metric_at(payload, segments, 0)
        if value is not None:
            metrics[name] = value
    return metrics


@lru_cache(maxsize=4096)
def _path_segments(path: str) -> tuple[str, ...]:
    """``split_path`` once per metric path: every changed document walks its source's paths again, and
    splitting each of them anew was a tenth of a change's metric extraction. Bounded like the caches
    above: 4,096 distinct paths (a few hundred bytes each) before the least recently used goes."""
    return tuple(split_path(path))


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond a float (10**400): no metric, as NaN and infinity give none
            return None
        return number if math.isfinite(number) else None
    return None


def _metric_at(node: Any, segments: Sequence[str], at: int) -> float | None:
    """The metric at ``segments[at:]`` below ``node``; an index into the segments, not a slice, so that a
    path's walk copies no list per step."""
    if at == len(segments):
        return _as_number(node)
    head, rest = segments[at], at + 1
    if head == WILDCARD:
        children: Iterable[Any]
        if isinstance(node, list):
            children = node
        elif isinstance(node, dict):
            children = node.values()
        else:
            return None
        found = [v for v in (_metric_at(child, segments, rest) for child in children) if v is not None]
        try:
            return math.fsum(found) if found else None
        except OverflowError:  # finite values whose sum is not ([1e308, 1e308]): no metric, as for infinity
            return None
    if isinstance(node, dict):
        return _metric_at(node[head], segments, rest) if head in node else None
    if isinstance(node, list):
        index = _list_index(head, len(node))
        return None if index is None else _metric_at(node[index], segments, rest)
    return None


# --- diff ----------------------------------------------------------------------------------


def diff_payloads(old: JsonObject, new: JsonObject, volatile_paths: Sequence[str] = ()) -> list[FieldChange]:
    """Changed, added and removed leaf paths from ``old`` to ``new``, in path order."""
    if volatile_paths:
        old, new = strip_paths(old, volatile_paths), strip_paths(new, volatile_paths)
    changes: list[FieldChange] = []
    _diff_child(old, new, "", changes)
    return changes


def _join(prefix: str, segment: str) -> str:
    return f"{prefix}.{segment}" if prefix else segment


def _same_tree(a: Any, b: Any) -> bool:
    """Equal containers, told at C speed: ``==`` alone takes True for 1 and 1 for 1.0, which are different
    JSON, and ``repr`` tells those apart (it also differs for the same keys in another order, which then
    takes the field-by-field path, as does every container that differs)."""
    return bool(a == b) and repr(a) == repr(b)


def _diff(old: Any, new: Any, path: str, out: list[FieldChange]) -> None:
    # The hot loop of a changed poll: one call per differing container, its children compared in line, so a
    # leaf costs a comparison and, when it changed, one FieldChange (no call, no path built when equal).
    if old is new or _same_tree(old, new):
        return  # most of a document is unchanged between two polls: no walk through it
    prefix = f"{path}." if path else ""
    if isinstance(old, dict):
        if old.keys() == new.keys():
            # The same keys on both sides, as in most objects that changed: no union to build, and no key
            # to look up on either side to tell an added or removed one.
            for key in sorted(old):
                _diff_child(old[key], new[key], f"{prefix}{key}", out)
            return
        for key in sorted(old.keys() | new.keys()):
            if key not in new:
                out.append(FieldChange(path=f"{prefix}{key}", old=old[key], new=None, kind="removed"))
            elif key not in old:
                out.append(FieldChange(path=f"{prefix}{key}", old=None, new=new[key], kind="added"))
            else:
                _diff_child(old[key], new[key], f"{prefix}{key}", out)
        return
    shared = min(len(old), len(new))
    for index in range(shared):
        _diff_child(old[index], new[index], f"{prefix}{index}", out)
    for index in range(shared, len(old)):
        out.append(FieldChange(path=f"{prefix}{index}", old=old[index], new=None, kind="removed"))
    for index in range(shared, len(new)):
        out.append(FieldChange(path=f"{prefix}{index}", old=None, new=new[index], kind="added"))


def _diff_child(old: Any, new: Any, path: str, out: list[FieldChange]) -> None:
    kind = type(old)
    if kind is type(new):
        if kind is dict or kind is list:
            _diff(old, new, path, out)
        elif old != new:  # the same type: True == 1 and 1 == 1.0 in Python, but they are different JSON
            out.append(FieldChange(path=path, old=old, new=new, kind="changed"))
    elif (isinstance(old, dict) and isinstance(new, dict)) or (isinstance(old, list) and isinstance(new, list)):
        _diff(old, new, path, out)  # a dict or list subclass beside a plain one: compared as JSON compares them
    else:
        out.append(FieldChange(path=path, old=old, new=new, kind="changed"))  # another JSON type (1 and 1.0 too)


# --- helpers -------------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def _first_non_finite(node: Any, path: str) -> tuple[str, float] | None:
    if isinstance(node, float):
        return None if math.isfinite(node) else (path, node)
    if isinstance(node, dict):
        for key, value in node.items():
            found = _first_non_finite(value, _join(path, str(key)))
            if found:
                return found
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            found = _first_non_finite(value, _join(path, str(index)))
            if found:
                return found
    return None
