"""Compressed, oddly encoded and hostile bodies over real sockets: the poller decodes, limits, refuses."""

from __future__ import annotations

import gc
import json
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from pollers import fetch as fetch_module
from pollers.decoding import ACCEPT_ENCODING, DecodingError, Pipeline
from pollers.fetch import Fetcher, FetchPolicy
from pollers.simulator import encodings, payload
from pollers.simulator.server import NON_ASCII_NOTE
from tests.simulator import RunningSimulator

MIB = 1024 * 1024


def policy(**overrides: Any) -> FetchPolicy:
    values: dict[str, Any] = {
        "allowed_private_hosts": ("127.0.0.1",),
        "retries": 0,
        "connect_timeout": 1.0,
        "read_timeout": 5.0,
        "max_body_bytes": MIB,
    }
    values.update(overrides)
    return FetchPolicy(**values)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    fetcher = Fetcher(policy())
    yield fetcher
    fetcher.close()


def plain_document(simulator: RunningSimulator, region: str) -> dict[str, Any]:
    return payload.generate(region, simulator.state.now(), window_seconds=simulator.state.window_seconds, stats=True)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "deflate-raw", "br", "zstd", "identity"])
def test_it_decodes_each_content_coding(simulator: RunningSimulator, fetcher: Fetcher, coding: str) -> None:
    result = fetcher.fetch(simulator.url("eu-west", f"stats=1&fault=encoding&coding={coding}"), timeout=5)
    assert result.ok, (result.error_kind, result.error_message)
    assert result.payload == plain_document(simulator, "eu-west")
    # The limit and the stored size count decoded bytes, not what travelled.
    assert result.body_bytes == len(json.dumps(result.payload).encode())


def test_it_advertises_exactly_the_codings_it_decodes(simulator: RunningSimulator, fetcher: Fetcher) -> None:
    result = fetcher.fetch(f"{simulator.base_url}/echo/headers", timeout=5)
    assert result.ok
    assert result.payload is not None
    assert result.payload["Accept-Encoding"] == "gzip, deflate, br, zstd" == ACCEPT_ENCODING
    for coding in ACCEPT_ENCODING.split(", "):
        assert Pipeline.for_header(coding).decoders  # a decoder for every coding offered


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_it_reports_a_body_that_does_not_match_its_encoding(
    simulator: RunningSimulator, fetcher: Fetcher, coding: str
) -> None:
    result = fetcher.fetch(simulator.url("eu-west", f"fault=bad_encoding&coding={coding}"), timeout=5)
    assert (result.ok, result.error_kind, result.attempts) == (False, "bad_encoding", 1)
    assert coding in result.error_message


def test_it_refuses_a_coding_it_did_not_offer() -> None:
    with pytest.raises(DecodingError) as caught:
        Pipeline.for_header("compress")
    assert caught.value.kind == "bad_encoding"
    assert "compress" in caught.value.message


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_it_reports_a_compressed_body_cut_short(coding: str) -> None:
    whole = encodings.encode(b'{"a": "' + b"x" * 5000 + b'"}', coding)
    pipeline = Pipeline.for_header(coding)
    list(pipeline.feed(whole[: len(whole) // 2]))
    with pytest.raises(DecodingError, match="ends before the end"):
        list(pipeline.finish())


def test_it_undoes_stacked_codings_last_applied_first() -> None:
    body = b'{"stacked": true}'
    wire = encodings.encode(encodings.encode(body, "gzip"), "br")
    pipeline = Pipeline.for_header("gzip, br")
    assert b"".join([*pipeline.feed(wire), *pipeline.finish()]) == body


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
@pytest.mark.parametrize("declare", ["1", "0"])
def test_it_stops_a_compression_bomb_in_bounded_memory_and_time_and_frees_it_on_return(
    simulator: RunningSimulator, coding: str, declare: str
) -> None:
    encodings.bomb(coding, encodings.BLOCK * 1024)  # built before measuring: the server's memory, not ours
    # 2 MiB: more than the bomb's ~1 MiB on the wire, so only the decoded bytes can trip the limit.
    fetcher = Fetcher(policy(max_body_bytes=2 * MIB, read_timeout=30.0))
    # The cyclic collector off, as good as off between the poller's rare collections (devops_insights/collector.py,
    # 50,000 allocations; a bomb poll makes few): what the fetch leaves in a reference cycle stays until then.
    collecting = gc.isenabled()
    gc.disable()
    tracemalloc.start()
    try:
        started = time.monotonic()
        result = fetcher.fetch(simulator.url("eu-west", f"fault=bomb&coding={coding}&declare={declare}"), timeout=30)
        elapsed = time.monotonic() - started
        left, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        if collecting:
            gc.enable()
        fetcher.close()
    assert (result.ok, result.error_kind) == (False, "too_large"), result.error_message
    assert "decoded" in result.error_message
    # 1 GiB of zeros behind ~1 MiB on the wire: reading stops after the limit plus one bounded piece.
    assert peak < 16 * MIB, f"peak {peak / MIB:.1f} MiB"
    # And the decoded body, the decoders and the response are freed when the fetch returns: kept until the
    # collector's next pass, the 16 bomb polls in flight at a time of bench/poll.py's bombs row held a body
    # each, and a cycle's 100 bombs raised the poller's peak resident memory by a third.
    assert left < MIB // 4, f"{left / MIB:.2f} MiB left after the fetch returned"
    assert elapsed < 5.0


def test_it_frees_a_body_it_read_whole_and_refused_when_the_fetch_returns(simulator: RunningSimulator) -> None:
    # 1,000,000 nested arrays: a 2 MB body read to its end, then refused by the parse (too_deep). That refusal is
    # raised from another exception (BodyError), which stays on the kept failure as its __context__.
    fetcher = Fetcher(policy(max_body_bytes=4 * MIB, read_timeout=30.0))
    collecting = gc.isenabled()
    gc.disable()  # as good as off between the poller's rare collections (devops_insights/collector.py)
    tracemalloc.start()
    try:
        result = fetcher.fetch(simulator.url("eu-west", "fault=deep&depth=1000000"), timeout=30)
        # Only what the fetch itself allocated (the body and its decoded copy), not the simulator's threads in
        # this same process, which may still be letting go of the body they sent.
        traced = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, fetch_module.__file__)])
    finally:
        tracemalloc.stop()
        if collecting:
            gc.enable()
        fetcher.close()
    assert (result.ok, result.error_kind) == (False, "too_deep"), result.error_message
    left = sum(stat.size for stat in traced.statistics("filename"))
    # Kept until the collector's next pass, a source answering such a body held two copies of it per poll.
    assert left < MIB // 4, f"{left / MIB:.2f} MiB allocated by the fetch left after it returned"


def test_it_applies_the_slow_body_deadline_to_a_compressed_drip(simulator: RunningSimulator) -> None:
    fetcher = Fetcher(policy())
    started = time.monotonic()
    result = fetcher.fetch(simulator.url("us-east", "stats=1&fault=drip&interval=0.05&coding=gzip"), timeout=1.0)
    assert (result.ok, result.error_kind) == (False, "slow_body")
    assert time.monotonic() - started < 1.6


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("charset=utf-16", "utf-16 with its own byte-order mark"),
        ("charset=utf-16-le", "utf-16-le declared, no mark"),
        ("charset=utf-16-be&bom=1&declare=0", "utf-16-be told by its mark alone"),
        ("charset=utf-16-le&declare=0", "utf-16-le told by its zero bytes alone"),
        ("charset=utf-32", "utf-32 with its own mark"),
        ("charset=utf-8&bom=1", "utf-8 with a mark"),
        ("charset=utf-8&declare=0", "utf-8 by default"),
        ("charset=iso-8859-1", "latin-1 declared: its bytes are not valid UTF-8"),
    ],
)
def test_it_honours_the_charset_and_byte_order_mark(
    simulator: RunningSimulator, fetcher: Fetcher, query: str, label: str
) -> None:
    result = fetcher.fetch(simulator.url("ap-south", f"stats=1&fault=charset&{query}"), timeout=5)
    assert result.ok, (label, result.error_kind, result.error_message)
    assert result.payload is not None
    assert result.payload["note"] == NON_ASCII_NOTE, label
    assert {**result.payload, "note": None} == {**plain_document(simulator, "ap-south"), "note": None}


def test_it_names_the_decoded_body_and_its_content_type_for_reuse(
    simulator: RunningSimulator, fetcher: Fetcher
) -> None:
    def digest(region: str, query: str) -> str:
        result = fetcher.fetch(simulator.url(region, query), timeout=5)
        assert result.ok, (result.error_kind, result.error_message)
        return result.body_digest

    plain = digest("eu-west", "stats=1")
    # The decoded bytes count, not how they travelled: a gzip answer of the same document is the same body.
    assert digest("eu-west", "stats=1") == digest("eu-west", "stats=1&fault=encoding&coding=gzip") == plain
    assert digest("us-east", "stats=1") != plain
    # The Content-Type decides the parse (its charset): the same bytes under another one are another body.
    declared = digest("eu-west", "stats=1&fault=charset&charset=utf-8")
    assert declared != digest("eu-west", "stats=1&fault=charset&charset=utf-8&declare=0")
    assert len(declared) == 40


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("charset=iso-8859-1&label=utf-8", "not valid utf-8"),
        ("charset=utf-8&label=klingon", "'klingon' is unknown"),
    ],
)
def test_it_reports_a_body_not_in_its_charset(
    simulator: RunningSimulator, fetcher: Fetcher, query: str, words: str
) -> None:
    result = fetcher.fetch(simulator.url("ap-south", f"fault=charset&{query}"), timeout=5)
    assert (result.ok, result.error_kind, result.attempts) == (False, "bad_charset", 1)
    assert words in result.error_message


@pytest.mark.parametrize(("depth", "ok"), [(63, True), (64, False)])
def test_it_takes_json_up_to_the_depth_limit_and_no_deeper(
    simulator: RunningSimulator, fetcher: Fetcher, depth: int, ok: bool
) -> None:
    # The simulator wraps the arrays in an object: depth + 1 levels in all, against a limit of 64.
    result = fetcher.fetch(simulator.url("eu-west", f"fault=deep&depth={depth}"), timeout=5)
    assert result.ok is ok
    if not ok:
        assert result.error_kind == "too_deep"
        assert "64" in result.error_message


def test_it_refuses_200000_nested_arrays_without_recursing(simulator: RunningSimulator, fetcher: Fetcher) -> None:
    errors: list[BaseException] = []
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(fetcher.fetch(simulator.url("eu-west", "fault=deep&depth=200000"), timeout=5))
        except BaseException as exc:  # the point: nothing, RecursionError least of all, escapes
            errors.append(exc)

    # A worker thread, as in the poller: its stack is what a recursive parser would exhaust.
    worker = threading.Thread(target=run)
    worker.start()
    worker.join(30)
    assert errors == []
    [result] = results
    assert (result.ok, result.error_kind, result.attempts) == (False, "too_deep", 1)


# The nesting scan itself is tested with the other JSON limits: tests/metrics/test_jsonlimits.py.
