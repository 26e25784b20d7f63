"""JSON budgets: size, depth and item count measured without recursion, before any parser runs."""

from __future__ import annotations

import codecs
import json
import sys
import time
from typing import Any

import pytest

from metrics.jsonlimits import (
    BodyError,
    JsonBudget,
    JsonBudgetError,
    check_text,
    check_value,
    exceeds_depth,
    import_record_budget,
    loads,
    measure,
    parse_object,
    upstream_budget,
    websocket_budget,
)

BUDGET = JsonBudget(max_bytes=200_000, max_depth=64, max_items=60_000, what="the document", size_setting="X_BYTES")


def nested(depth: int, items: int) -> str:
    """The probe's payload: ``items`` numbers at the bottom of ``depth`` nested lists."""
    return "[" * depth + ",".join(["0"] * items) + "]" * depth


@pytest.mark.parametrize(
    ("text", "depth", "items"),
    [
        ("[]", 1, 0),
        ("{}", 1, 0),
        ('"[[[["', 0, 0),
        ("[ ]", 1, 0),
        ("[1, 2, 3]", 1, 3),
        ('{"a": [1, {"b": []}], "c": "]]]}}}"}', 4, 5),
        ('["\\"[", "\\\\", "]"]', 1, 3),
        (nested(900, 50_000), 900, 50_899),
    ],
)
def test_it_measures_depth_and_items_without_parsing(text: str, depth: int, items: int) -> None:
    shape = measure(text)
    assert (shape.depth, shape.items) == (depth, items)
    assert shape.size == len(text.encode())


def test_it_refuses_a_document_nested_deeper_than_the_interpreter_can_parse() -> None:
    # Deeper than the recursion limit: json.loads itself would raise RecursionError here.
    text = nested(sys.getrecursionlimit() + 100, 1)
    with pytest.raises(RecursionError):
        json.loads(text)
    with pytest.raises(JsonBudgetError) as caught:
        loads(text, BUDGET)
    assert caught.value.kind == "too_deep"
    assert str(caught.value) == "the document nests deeper than 64 levels (JSON_MAX_DEPTH)"


def test_it_refuses_the_probe_payload_by_depth_before_items() -> None:
    with pytest.raises(JsonBudgetError) as caught:
        check_text(nested(900, 50_000), BUDGET)
    assert caught.value.kind == "too_deep"


def test_it_refuses_too_many_items() -> None:
    with pytest.raises(JsonBudgetError) as caught:
        check_text(nested(2, 60_001), BUDGET)
    assert (caught.value.kind, caught.value.limit) == ("too_many_items", 60_000)


@pytest.mark.parametrize("as_bytes", [True, False])
def test_it_refuses_too_many_bytes_naming_the_setting(as_bytes: bool) -> None:
    text = json.dumps({"blob": "é" * 150_000})  # 300,000 UTF-8 bytes, 150,000 characters
    with pytest.raises(JsonBudgetError, match=r"larger than 200000 bytes \(X_BYTES\)") as caught:
        check_text(text.encode() if as_bytes else text, BUDGET)
    assert caught.value.kind == "too_large"


def test_it_parses_what_fits_and_leaves_bad_json_to_the_parser() -> None:
    assert loads('{"a": [1, 2, {"b": null}]}', BUDGET) == {"a": [1, 2, {"b": None}]}
    with pytest.raises(json.JSONDecodeError) as caught:
        loads('{"a": ', BUDGET)
    assert not isinstance(caught.value, JsonBudgetError)


def deep_value(depth: int) -> Any:
    value: Any = [0]
    for _ in range(depth - 1):
        value = {"k": value}
    return value


def test_it_checks_decoded_values_with_an_explicit_stack() -> None:
    check_value(deep_value(64), BUDGET)
    with pytest.raises(JsonBudgetError) as caught:
        check_value(deep_value(5_000), BUDGET)  # far past the recursion limit: walked iteratively
    assert caught.value.kind == "too_deep"
    with pytest.raises(JsonBudgetError) as caught:
        check_value({"a": list(range(30_000)), "b": [list(range(30_000))]}, BUDGET)
    assert caught.value.kind == "too_many_items"


def test_it_builds_each_readers_budget_from_the_settings(settings: Any) -> None:
    settings.JSON_MAX_DEPTH = 10
    settings.JSON_MAX_ITEMS = 500
    settings.REALTIME_MAX_MESSAGE_BYTES = 4096
    settings.POLLER_MAX_BODY_BYTES = 8192
    settings.POLLER_MAX_JSON_DEPTH = 12
    assert websocket_budget() == JsonBudget(4096, 10, 500, "the message", "REALTIME_MAX_MESSAGE_BYTES")
    # Upstream documents keep their own depth setting (docs/polling.md, structure limits).
    assert (upstream_budget().max_bytes, upstream_budget().max_depth) == (8192, 12)
    record = import_record_budget()
    # The record's own levels around the deepest payload the store holds: the poller's limit, above the API's.
    assert (record.max_depth, record.depth_setting) == (16, "POLLER_MAX_JSON_DEPTH")
    assert record.max_bytes > settings.METRICS_MAX_PAYLOAD_BYTES
    # Items: a stored payload's are bounded by its size only (the poller counts nesting, not items).
    settings.METRICS_MAX_PAYLOAD_BYTES = 4096
    assert (import_record_budget().max_items, import_record_budget().items_setting) == (
        4096 + 1024,
        "METRICS_MAX_PAYLOAD_BYTES",
    )


# --- upstream documents: the nesting scan before parsing (moved here from pollers/jsonbody.py) ---------


@pytest.mark.parametrize(
    ("text", "limit", "deeper"),
    [
        ("{}", 0, True),
        ("{}", 1, False),
        ("[[[]]]", 2, True),
        ("[[[]]]", 3, False),
        ('["[[[[[["]', 1, False),  # brackets inside a string do not count
        ('["\\"[[[[", "]]"]', 1, False),  # nor after an escaped quote
        ('{"a": {"b": [1, {"c": 2}]}}', 3, True),
        ('{"a": {"b": [1, {"c": 2}]}}', 4, False),
        ("[[[" + '"\\"' * 1000, 2, True),  # an unterminated string: linear, and the brackets before it count
    ],
)
def test_it_measures_nesting_outside_strings(text: str, limit: int, deeper: bool) -> None:
    assert exceeds_depth(text, limit) is deeper


def test_it_measures_nesting_in_linear_time_on_hostile_text() -> None:
    # Every quote opens a string that never closes: a backtracking scan would be quadratic.
    hostile = "[" * 100 + '"\\"' * 300_000
    started = time.monotonic()
    assert exceeds_depth(hostile, 64)
    assert exceeds_depth('"\\"' * 300_000 + "[" * 100, 64) is False  # the brackets sit inside the open string
    assert time.monotonic() - started < 1.0


def test_it_measures_any_readers_text_in_linear_time_with_an_unterminated_string() -> None:
    # The same scan serves every budget: an API body of quotes that never close stays cheap.
    hostile = '{"a": ' + '"\\"' * 200_000
    started = time.monotonic()
    shape = measure(hostile)
    assert shape.depth == 1
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        (b"[" * 200_000, "application/json", "too_deep"),
        (b'{"a": NaN}', "application/json", "not_json"),
        (b"[1, 2]", "application/json", "not_object"),
        (b'{"a": 1}', "application/json; charset=klingon", "bad_charset"),
    ],
)
def test_it_turns_a_bad_upstream_body_into_its_error_kind(body: bytes, content_type: str, kind: str) -> None:
    with pytest.raises(BodyError) as caught:
        parse_object(body, content_type, 64)
    assert caught.value.kind == kind


def test_it_reads_an_upstream_body_by_its_byte_order_mark_or_charset() -> None:
    document = {"status": "ok", "note": "café"}
    text = json.dumps(document)
    assert parse_object(codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "application/json", 64) == document
    assert parse_object(text.encode("latin-1"), "application/json; charset=ISO-8859-1", 64) == document
