"""The layer sender: one loop and one Redis connection for many event messages; never fails a poll."""

from __future__ import annotations

import gc
import logging
import threading
import time
import weakref
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio.connection import Connection

from metrics.stores.base import FieldChange, RecordResult
from realtime.events import publish_update
from realtime.groups import ALL_GROUP, source_group
from realtime.layer_sender import layer_sender
from tests import services


def result(sequence: int) -> RecordResult:
    return RecordResult(
        changed=True,
        hash=f"{sequence:040x}",
        metrics={"cpu_load": float(sequence)},
        sequence=sequence,
        diff=[FieldChange("results.stats.server.cpu_load", 1.0, 2.0, "changed")],
    )


@pytest.fixture
def connections_opened(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts Redis connections opened by any asyncio Redis client in this process (a spy, not a mock)."""
    opened: list[int] = []
    original = Connection._connect

    async def counting_connect(self: Connection) -> None:
        opened.append(threading.get_ident())
        await original(self)

    monkeypatch.setattr(Connection, "_connect", counting_connect)
    return opened


@pytest.mark.parametrize(
    "layer", ["channels_redis.core.RedisChannelLayer", "channels_redis.pubsub.RedisPubSubChannelLayer"]
)
def test_it_reuses_one_connection_for_many_publishes(
    redis_settings: Any, redis_url: str, redis_client: Any, connections_opened: list[int], layer: str
) -> None:
    redis_settings.CHANNEL_LAYERS = {"default": {"BACKEND": layer, "CONFIG": {"hosts": [redis_url]}}}
    for sequence in range(1, 31):
        assert publish_update("us-east", result(sequence), datetime.now(UTC), f"poll-{sequence}")
    assert 1 <= len(connections_opened) <= 2, f"{len(connections_opened)} connections for 30 publishes"
    assert set(connections_opened) == {layer_sender._thread.ident if layer_sender._thread else None}


def test_it_delivers_to_a_redis_group_listener_in_another_loop(redis_settings: Any) -> None:
    """What a web process sees: a listener on its own loop gets the poller's event, both groups."""
    import asyncio

    from channels.layers import get_channel_layer

    received: list[dict[str, Any]] = []

    async def listen(ready: threading.Event) -> None:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(source_group("us-east"), channel)
        await layer.group_add(ALL_GROUP, channel)
        ready.set()
        for _ in range(2):
            received.append(await asyncio.wait_for(layer.receive(channel), 5))

    ready = threading.Event()
    listener = threading.Thread(target=lambda: asyncio.run(listen(ready)))
    listener.start()
    assert ready.wait(5)
    assert publish_update("us-east", result(3), datetime(2026, 1, 1, tzinfo=UTC), "poll-3", payload={"status": "ok"})
    listener.join(10)
    assert len(received) == 2
    assert {event["group"] for event in received} == {source_group("us-east"), ALL_GROUP}
    event = received[0]
    assert event["type"] == "metric.update"
    assert (event["source"], event["sequence"], event["poll_id"]) == ("us-east", 3, "poll-3")
    assert event["fetched_at"] == "2026-01-01T00:00:00+00:00"
    assert event["diff"] == [{"path": "results.stats.server.cpu_load", "old": 1.0, "new": 2.0, "kind": "changed"}]
    assert event["payload"] == {"status": "ok"}


def test_it_returns_false_quickly_and_logs_when_redis_is_down(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.REALTIME_PUBLISH_TIMEOUT = 1.0
    dead = f"redis://:s3cret-password@127.0.0.1:{services.free_port()}/0"
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [dead]}}
    }
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="realtime.layer_sender"):
        assert publish_update("us-east", result(1), datetime.now(UTC)) is False
    assert time.monotonic() - started < 3
    assert "realtime publish" in caplog.text
    assert "s3cret-password" not in caplog.text


def test_it_frees_what_a_failed_publish_was_given_when_it_returns(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.REALTIME_PUBLISH_TIMEOUT = 5.0  # refused at once: the send fails, it does not time out
    dead = f"redis://127.0.0.1:{services.free_port()}/0"
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [dead]}}
    }
    record = result(1)  # in the poller, the change just stored: its caller's frames hold the poll and its document
    given = weakref.ref(record)
    collecting = gc.isenabled()
    gc.disable()  # as good as off between the poller's collections (devops_insights/collector.py)
    try:
        with caplog.at_level(logging.WARNING, logger="realtime.layer_sender"):
            assert publish_update("us-east", record, datetime.now(UTC)) is False
        del record
        alive = given() is not None
    finally:
        if collecting:
            gc.enable()
    assert "realtime publish failed" in caplog.text
    assert not alive, "the change a failed publish was given outlived it"


def test_it_recovers_when_redis_comes_back(redis_settings: Any, redis_url: str, settings: Any) -> None:
    settings.REALTIME_PUBLISH_TIMEOUT = 1.0
    working = dict(redis_settings.CHANNEL_LAYERS)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{services.free_port()}/0"]},
        }
    }
    assert publish_update("us-east", result(1), datetime.now(UTC)) is False
    settings.CHANNEL_LAYERS = working
    assert publish_update("us-east", result(2), datetime.now(UTC)) is True


def test_it_starts_a_fresh_loop_after_close(redis_settings: Any) -> None:
    assert publish_update("us-east", result(1), datetime.now(UTC))
    first = layer_sender.loop
    layer_sender.close()
    assert layer_sender.loop is None
    assert publish_update("us-east", result(2), datetime.now(UTC))
    assert layer_sender.loop is not None
    assert layer_sender.loop is not first


def test_it_does_nothing_without_a_channel_layer(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {}
    assert publish_update("us-east", result(1), datetime.now(UTC)) is False


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("REALTIME_CHANNEL_LAYER", "kafka", "expected one of pubsub, redis"),
        ("CHANNEL_LAYER_CAPACITY", "5", "must be at least 10"),
        ("CHANNEL_LAYER_GROUP_EXPIRY", "soon", "expected a whole number"),
        ("REALTIME_MAX_MESSAGES_PER_SECOND", "0", "must be at least 1"),
        ("REALTIME_MAX_MESSAGE_BYTES", "10", "must be at least 1024"),
        ("REALTIME_PUBLISH_TIMEOUT", "fast", "expected a number"),
        ("REALTIME_QUERY_TOKEN_AUTH", "perhaps", "expected true or false"),
    ],
)
def test_it_rejects_bad_realtime_settings_in_one_line(tmp_path: Any, variable: str, value: str, words: str) -> None:
    from tests.run_manage import assert_one_line_error, run_manage

    assert_one_line_error(run_manage("check", env={variable: value}, tmp_path=tmp_path), variable, words)


def test_it_builds_no_event_when_nobody_in_this_process_listens(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A poller on its own with the in-memory layer: the update is not turned into a message for nothing."""
    from realtime import events

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    built: list[str] = []
    original = events.update_event

    def counting(*args: Any, **kwargs: Any) -> dict[str, Any]:
        built.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(events, "update_event", counting)
    assert publish_update("us-east", result(1), datetime.now(UTC)) is True
    assert built == []


def test_it_builds_the_event_once_for_a_listener_in_this_process(settings: Any) -> None:
    import asyncio

    from channels.layers import channel_layers, get_channel_layer

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.pop("default", None)
    layer = get_channel_layer()
    channel = asyncio.run(layer.new_channel())
    asyncio.run(layer.group_add(source_group("us-east"), channel))
    try:
        assert publish_update("us-east", result(7), datetime.now(UTC), "poll-7") is True
        message = asyncio.run(layer.receive(channel))
    finally:
        asyncio.run(layer.flush())
        channel_layers.backends.pop("default", None)
    assert message["type"] == "metric.update"
    assert message["sequence"] == 7
    assert message["diff"] == [{"path": "results.stats.server.cpu_load", "old": 1.0, "new": 2.0, "kind": "changed"}]
    assert message["event_id"]
