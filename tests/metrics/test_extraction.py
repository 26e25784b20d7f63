from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from metrics.defaults import DEFAULT_METRIC_PATHS
from metrics.extraction import (
    canonical_json,
    diff_payloads,
    extract_metrics,
    parsed_from,
    payload_hash,
    prepare,
    strip_paths,
    validate_payload,
)
from metrics.stores.base import FieldChange, PayloadError, SourceSpec, diff_from_json, diff_to_json


def status_payload() -> dict[str, Any]:
    return {
        "status": "ok",
        "server_issue": None,
        "version": "v2.4.1",
        "roles": ["api", "worker"],
        "results": {
            "services": {"redis": True, "database": False},
            "stats": {
                "online": 57,
                "servers_count": 3,
                "session": 412,
                "server": {
                    "cpu_load": 41.7,
                    "active_connections": 9876,
                    "wait_time": 63,
                    "timers": 12,
                    "active_workers": 3,
                    "workers": [
                        ["api-handler-1", {"workers": 6, "idle": 2}],
                        ["api-handler-2", {"workers": 4, "idle": 5}],
                    ],
                },
            },
            "performance": {"response_times": {"p95": 410}, "error_rate": 0.8, "requests_per_second": 1320},
            "memory": {"usage_percent": 61.0},
            "storage": {"disk_usage_percent": 58.3},
            "network": {"latency_ms": 11},
            "alerts": {"critical_alerts": 0},
            "deployment": {"last_deployment": "2026-11-29T10:00:00Z"},
        },
    }


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [([1, 2], "an array"), ("ok", "a string"), (None, "null"), (3, "a number"), (True, "a boolean")],
)
def test_it_rejects_a_payload_that_is_not_an_object(payload: Any, expected: str) -> None:
    with pytest.raises(PayloadError, match=f"must be a JSON object, got {expected}"):
        validate_payload(payload, 1024)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_it_rejects_nan_and_infinity_and_names_the_path(bad: float) -> None:
    payload = {"a": {"b": [1, {"c": bad}]}}
    with pytest.raises(PayloadError, match=r"at a\.b\.1\.c; NaN and Infinity are not valid JSON"):
        validate_payload(payload, 1024)


def test_it_rejects_a_payload_over_the_size_limit_by_encoded_bytes() -> None:
    # 300 two-byte characters: 300 characters but 600+ bytes encoded.
    payload = {"text": "é" * 300}
    size = len(canonical_json(payload).encode())
    validate_payload(payload, size)
    with pytest.raises(PayloadError, match=f"payload is {size} bytes encoded, over the {size - 1}-byte limit"):
        validate_payload(payload, size - 1)


def test_it_rejects_values_json_cannot_carry() -> None:
    with pytest.raises(PayloadError, match="not JSON-serializable"):
        validate_payload({"when": object()}, 1024)


def test_it_rejects_absurd_nesting_with_a_clear_error() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(5000):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(PayloadError, match="nested too deeply"):
        validate_payload(deep, 10**9)


# --- canonical JSON and hash --------------------------------------------------------------


def test_it_writes_canonical_json_with_sorted_keys_and_no_whitespace() -> None:
    assert canonical_json({"b": 1, "a": {"d": [1, 2], "c": None}}) == '{"a":{"c":null,"d":[1,2]},"b":1}'


def test_it_hashes_equal_content_equally_whatever_the_key_order() -> None:
    one = {"a": 1, "b": {"c": 2, "d": 3}}
    two = json.loads('{"b": {"d": 3, "c": 2}, "a": 1}')
    assert payload_hash(one) == payload_hash(two)
    assert payload_hash(one) != payload_hash({"a": 1, "b": {"c": 2, "d": 4}})
    assert len(payload_hash(one)) == 40


def test_it_leaves_volatile_paths_out_of_the_hash_only() -> None:
    old = status_payload()
    new = copy.deepcopy(old)
    new["results"]["deployment"]["last_deployment"] = "2026-11-29T11:00:00Z"
    volatile = ["results.deployment.last_deployment"]
    assert payload_hash(old) != payload_hash(new)
    assert payload_hash(old, volatile) == payload_hash(new, volatile)
    new["results"]["stats"]["online"] = 58
    assert payload_hash(old, volatile) != payload_hash(new, volatile)


def test_it_strips_wildcard_and_index_paths_without_touching_the_input() -> None:
    payload = status_payload()
    stripped = strip_paths(payload, ["results.stats.server.workers.*.1.idle", "roles.0", "missing.path"])
    assert [w[1] for w in stripped["results"]["stats"]["server"]["workers"]] == [{"workers": 6}, {"workers": 4}]
    assert stripped["roles"] == [None, "worker"]
    assert payload["results"]["stats"]["server"]["workers"][0][1]["idle"] == 2
    assert payload["roles"] == ["api", "worker"]


# --- metrics ------------------------------------------------------------------------------


def test_it_extracts_the_default_status_metrics() -> None:
    metrics = extract_metrics(status_payload(), DEFAULT_METRIC_PATHS)
    assert metrics == {
        "cpu_load": 41.7,
        "active_connections": 9876.0,
        "wait_time": 63.0,
        "timers": 12.0,
        "online": 57.0,
        "session": 412.0,
        "servers_count": 3.0,
        "workers_busy": 3.0,
        "workers_idle": 7.0,  # 2 + 5 across the worker pools
        "response_time_p95": 410.0,
        "error_rate": 0.8,
        "requests_per_second": 1320.0,
        "memory_usage_percent": 61.0,
        "disk_usage_percent": 58.3,
        "network_latency_ms": 11.0,
        "critical_alerts": 0.0,
        "service_redis_up": 1.0,
        "service_database_up": 0.0,
    }
    assert all(isinstance(v, float) for v in metrics.values())


def test_it_leaves_out_missing_and_non_numeric_metrics_without_error() -> None:
    paths = {
        "missing": "results.nope.value",
        "string": "version",
        "object": "results.stats",
        "null": "server_issue",
        "through_a_string": "version.0",
        "bad_index": "roles.7",
        "empty": "",
        "wildcard_over_nothing": "roles.*.x",
    }
    assert extract_metrics(status_payload(), paths) == {}


def test_it_leaves_out_a_number_or_sum_beyond_a_float_instead_of_failing_the_poll() -> None:
    # Both raised OverflowError, which failed the poll as "internal": an answered poll counted down, burning
    # the availability objectives' budget. Now absent, as NaN and infinity are.
    payload = {"big": 10**400, "small": -(10**400), "xs": [1e308, 1e308], "ok": [1, 2]}
    paths = {"big": "big", "small": "small", "sum": "xs.*", "fine": "ok.*"}
    assert extract_metrics(payload, paths) == {"fine": 3.0}


def test_it_walks_one_metric_path_afresh_through_documents_of_every_shape() -> None:
    # The path is split once and kept: nothing of one document's walk may carry over to the next.
    paths = {"idle": " pools.*.idle ", "first": "pools.0.idle"}
    assert extract_metrics({"pools": [{"idle": 1}, {"idle": 2}]}, paths) == {"idle": 3.0, "first": 1.0}
    assert extract_metrics({"pools": {"a": {"idle": 4}, "b": {"idle": True}}}, paths) == {"idle": 5.0}
    assert extract_metrics({"pools": 7}, paths) == {}
    assert extract_metrics({"pools": [{"idle": 8}]}, paths) == {"idle": 8.0, "first": 8.0}


def test_it_indexes_lists_including_from_the_end() -> None:
    payload = {"xs": [[1, 2], [3, 4]]}
    assert extract_metrics(payload, {"a": "xs.1.0", "b": "xs.-1.-1", "c": "xs.*.1"}) == {"a": 3.0, "b": 4.0, "c": 6.0}


def test_it_sums_booleans_under_a_wildcard() -> None:
    payload = {"services": {"redis": True, "db": True, "queue": False}}
    assert extract_metrics(payload, {"up": "services.*"}) == {"up": 2.0}


def test_it_prepares_everything_a_store_needs_in_one_pass() -> None:
    spec = SourceSpec("s", metric_paths={"online": "results.stats.online"}, volatile_paths=("version",))
    prepared = prepare(spec, status_payload(), 1024 * 1024)
    assert prepared.metrics == {"online": 57.0}
    assert prepared.hash == payload_hash(status_payload(), ["version"])
    assert prepared.canonical == canonical_json(status_payload())
    assert prepared.size_bytes == len(prepared.canonical.encode())


def test_it_reuses_what_the_same_body_gave_the_same_source_and_prepares_anything_else_in_full() -> None:
    spec = SourceSpec("s", metric_paths={"online": "results.stats.online"})
    with parsed_from(first := status_payload(), "body-1"):
        full = prepare(spec, first, 1024 * 1024)
    # The same body again, parsed into a new object: the same hash, metrics and size, no new text.
    with parsed_from(again := status_payload(), "body-1"):
        reused = prepare(spec, again, 1024 * 1024)
    assert (reused.hash, reused.metrics, reused.size_bytes) == (full.hash, full.metrics, full.size_bytes)
    assert reused.payload is again
    assert reused.canonical_text is None
    assert reused.canonical == canonical_json(again)  # made when a store asks for it
    reused.metrics["online"] = -1.0  # a receiver changing what it was handed changes nothing kept
    changed = status_payload()
    changed["results"]["stats"]["online"] = 58
    # Whatever is not that body for that source, under that limit, is prepared in full: another body,
    # another payload object than the one named, another source, other paths, a lower size limit.
    with parsed_from(changed, "body-2"):
        assert prepare(spec, changed, 1024 * 1024).metrics == {"online": 58.0}
    with parsed_from(again, "body-2"):
        assert prepare(spec, changed, 1024 * 1024).hash == payload_hash(changed)
        assert prepare(SourceSpec("t"), changed, 1024 * 1024).hash == payload_hash(changed)
    with parsed_from(again, "body-1"):
        assert prepare(spec, again, 1024 * 1024).metrics == {"online": 57.0}
        with pytest.raises(PayloadError, match="over the 100-byte limit"):
            prepare(spec, again, 100)
        assert prepare(SourceSpec("s", volatile_paths=("version",)), again, 1024 * 1024).hash == payload_hash(
            again, ["version"]
        )
    assert prepare(spec, changed, 1024 * 1024).canonical_text == canonical_json(changed)  # outside: in full


# --- diff ---------------------------------------------------------------------------------


def test_it_diffs_changed_added_and_removed_dotted_paths() -> None:
    old = status_payload()
    new = copy.deepcopy(old)
    new["results"]["services"]["redis"] = False
    new["results"]["stats"]["server"]["workers"][1][1]["idle"] = 0
    new["results"]["stats"]["server"]["workers"].append(["api-handler-3", {"workers": 1, "idle": 1}])
    new["roles"] = ["api"]
    del new["server_issue"]
    new["strict"] = True
    assert diff_payloads(old, new) == [
        FieldChange("results.services.redis", True, False, "changed"),
        FieldChange("results.stats.server.workers.1.1.idle", 5, 0, "changed"),
        FieldChange("results.stats.server.workers.2", None, ["api-handler-3", {"workers": 1, "idle": 1}], "added"),
        FieldChange("roles.1", "worker", None, "removed"),
        FieldChange("server_issue", None, None, "removed"),
        FieldChange("strict", None, True, "added"),
    ]


def test_it_reports_a_type_change_as_one_change_with_both_values() -> None:
    assert diff_payloads({"a": {"b": 1}, "n": 1}, {"a": None, "n": True}) == [
        FieldChange("a", {"b": 1}, None, "changed"),
        FieldChange("n", 1, True, "changed"),
    ]


def test_it_tells_numbers_and_booleans_apart_inside_equal_looking_containers() -> None:
    # Python's == takes these for equal; as JSON they differ, deep in a container too.
    old = {"a": {"b": [1, {"c": True}], "d": 1}, "same": {"x": [1, 2]}}
    new = {"a": {"b": [1.0, {"c": 1}], "d": 1}, "same": {"x": [1, 2]}}
    assert diff_payloads(old, new) == [
        FieldChange("a.b.0", 1, 1.0, "changed"),
        FieldChange("a.b.1.c", True, 1, "changed"),
    ]


def test_it_finds_no_difference_between_the_same_keys_in_another_order() -> None:
    assert diff_payloads({"a": {"x": 1, "y": [2]}, "b": 3}, {"b": 3, "a": {"y": [2], "x": 1}}) == []


def test_it_lists_the_changes_of_objects_with_the_same_keys_in_path_order_whatever_their_insertion_order() -> None:
    old = {"z": {"b": 1, "a": 2}, "m": [{"y": 1, "x": 2}]}
    new = {"m": [{"x": 3, "y": 4}], "z": {"a": 5, "b": 6}}
    assert diff_payloads(old, new) == [
        FieldChange("m.0.x", 2, 3, "changed"),
        FieldChange("m.0.y", 1, 4, "changed"),
        FieldChange("z.a", 2, 5, "changed"),
        FieldChange("z.b", 1, 6, "changed"),
    ]


def test_it_leaves_volatile_paths_out_of_the_diff() -> None:
    old = status_payload()
    new = copy.deepcopy(old)
    new["results"]["deployment"]["last_deployment"] = "later"
    new["results"]["stats"]["online"] = 1
    assert diff_payloads(old, new, ["results.deployment.last_deployment"]) == [
        FieldChange("results.stats.online", 57, 1, "changed")
    ]


def test_it_tells_json_types_apart_that_python_takes_as_equal() -> None:
    old = {"a": 1, "b": True, "c": [1], "d": {"x": 1}, "e": 1.0, "l": [1, 2], "n": {"k": [0, {"v": 1}]}}
    new = {"a": 1.0, "b": 1, "c": {"0": 1}, "d": [1], "e": 1.0, "l": [1, 2.0], "n": {"k": [0, {"v": True}]}}
    assert diff_payloads(old, new) == [
        FieldChange("a", 1, 1.0, "changed"),
        FieldChange("b", True, 1, "changed"),
        FieldChange("c", [1], {"0": 1}, "changed"),  # an array became an object: the whole value, once
        FieldChange("d", {"x": 1}, [1], "changed"),
        FieldChange("l.1", 2, 2.0, "changed"),
        FieldChange("n.k.1.v", 1, True, "changed"),
    ]


def test_it_diffs_arrays_that_grew_and_shrank_by_index() -> None:
    old = {"grew": [1, {"a": 1}], "shrank": ["x", "y", "z"]}
    new = {"grew": [1, {"a": 2}, "new", None], "shrank": ["x"]}
    assert diff_payloads(old, new) == [
        FieldChange("grew.1.a", 1, 2, "changed"),
        FieldChange("grew.2", None, "new", "added"),
        FieldChange("grew.3", None, None, "added"),
        FieldChange("shrank.1", "y", None, "removed"),
        FieldChange("shrank.2", "z", None, "removed"),
    ]


def test_it_finds_no_difference_between_equal_payloads() -> None:
    assert diff_payloads(status_payload(), status_payload()) == []


def test_it_round_trips_a_diff_through_json() -> None:
    diff = [FieldChange("a.b", 1, 2, "changed"), FieldChange("c", None, [1], "added")]
    assert diff_from_json(json.loads(json.dumps(diff_to_json(diff)))) == diff


def test_it_rejects_a_nul_character_that_postgresql_cannot_store() -> None:
    with pytest.raises(PayloadError, match="NUL character"):
        validate_payload({"a": "x\x00y"}, 1024)
    # A literal backslash followed by "u0000" is ordinary text.
    validate_payload({"a": "x\\u0000y"}, 1024)


def test_it_skips_paths_that_are_not_text() -> None:
    paths: Any = {"online": "results.stats.online", "bad": 5, 7: "results.stats.session"}
    assert extract_metrics(status_payload(), paths) == {"online": 57.0}
    assert strip_paths({"a": 1, "b": 2}, ["a", None, 3]) == {"b": 2}  # type: ignore[list-item]


def test_it_hashes_a_document_without_volatile_paths_as_its_canonical_json() -> None:
    payload = status_payload()
    prepared = prepare(SourceSpec(slug="s"), payload, 1024 * 1024)
    assert prepared.hash == payload_hash(payload)
    with_volatile = prepare(SourceSpec(slug="s", volatile_paths=["version"]), payload, 1024 * 1024)
    assert with_volatile.hash == payload_hash(payload, ["version"]) != prepared.hash


def test_it_reuses_metrics_only_for_the_same_document_and_the_same_paths() -> None:
    payload = status_payload()
    spec = SourceSpec(slug="s", metric_paths={"workers": "results.stats.server.workers.*.1.idle"})
    first = prepare(spec, payload, 1024 * 1024)
    first.metrics["workers"] = -1.0  # a receiver changing what it was handed changes nothing cached
    assert prepare(spec, copy.deepcopy(payload), 1024 * 1024).metrics == extract_metrics(payload, spec.metric_paths)
    other_paths = SourceSpec(slug="s", metric_paths={"up": "status"})
    assert prepare(other_paths, payload, 1024 * 1024).metrics == extract_metrics(payload, other_paths.metric_paths)
    # A volatile path leaves the hash alone but not the metrics read from it.
    volatile = SourceSpec(slug="s", volatile_paths=["n"], metric_paths={"n": "n"})
    assert prepare(volatile, {"n": 1}, 1024).metrics == {"n": 1.0}
    assert prepare(volatile, {"n": 2}, 1024).metrics == {"n": 2.0}


def test_it_rejects_an_unpaired_surrogate_that_no_store_can_write() -> None:
    document = json.loads('{"msg": "\\ud800"}')  # valid JSON text, but not valid Unicode
    with pytest.raises(PayloadError, match="unpaired surrogate"):
        validate_payload(document, 1024)
    # A pair is one character, and fine.
    validate_payload(json.loads('{"msg": "\\ud83d\\ude00"}'), 1024)
