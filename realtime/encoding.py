"""Encode each published update to JSON once per process, however many connections receive it.

Every subscriber of a source gets the same ``update`` text. Encoding it per connection was half of
the fan-out CPU time in bench/ws_fanout.py (a 3 KB payload times 1,000 connections), so the first
consumer to handle an event encodes it and the others reuse the text.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

_MAX_ENTRIES = 256
_cache: OrderedDict[tuple[Any, ...], str] = OrderedDict()


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def update_message(event: dict[str, Any]) -> dict[str, Any]:
    message = {
        "type": "update",
        "source": event["source"],
        "hash": event["hash"],
        "sequence": event["sequence"],
        "fetched_at": event["fetched_at"],
        "metrics": event["metrics"],
        "diff": event["diff"],
    }
    if "payload" in event:
        message["payload"] = event["payload"]
    if "published_at" in event:
        message["published_at"] = event["published_at"]
    return message


def encoded_update(event: dict[str, Any]) -> str:
    # One publish is one (source, sequence, hash, published_at); the channel layer may hand each
    # consumer its own copy of the event dict, so the key is its content, not its identity.
    key = (event["source"], event["sequence"], event["hash"], event.get("published_at"), "payload" in event)
    text = _cache.get(key)
    if text is None:
        text = dumps(update_message(event))
        _cache[key] = text
        if len(_cache) > _MAX_ENTRIES:
            _cache.popitem(last=False)
    return text
