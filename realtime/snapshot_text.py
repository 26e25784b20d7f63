"""A source's snapshot in a ``snapshot`` reply, encoded once per process per stored state.

A reconnect storm sends the same snapshots to every connection of a source; encoding a source's
document for each of them was the reply's whole cost (a payload is kilobytes, the rest of the reply a
few names). The text is the same for every viewer: it holds the source's stored state and nothing of
the connection that asked, and whether a connection may read the source is decided before its reply
is built (``known_sources``, against its teams). So the text is shared, keyed by what identifies a
stored state: a sequence names one stored change of a source (its document and metrics are written
only with a new one), and ``last_seen_at`` is the one field an unchanged poll moves. Encodes are
counted as ``devops_insights_websocket_encodes_total{type="snapshot"}``.

Only each source's latest text is kept, for at most ``MAX_SOURCES`` sources and ``MAX_CHARS``
characters in all (a document may be up to METRICS_MAX_PAYLOAD_BYTES, 1 MiB by default), least
recently sent first out: bounded memory, whatever the number of connections or sources.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

from metrics.serialization import WEBSOCKET_FORM, snapshot_json
from metrics.stores.base import Snapshot
from observability.instruments import WEBSOCKET_ENCODES
from realtime.encoding import dumps

MAX_SOURCES = 512
MAX_CHARS = 16 * 1024 * 1024

_StateKey = tuple[int, str, datetime, datetime]
_latest: OrderedDict[str, tuple[_StateKey, str]] = OrderedDict()
_held = {"chars": 0}


def snapshot_text(snapshot: Snapshot) -> str:
    """The JSON of ``snapshot`` as a ``snapshot`` reply lists it, with its document."""
    key = (snapshot.sequence, snapshot.hash, snapshot.fetched_at, snapshot.last_seen_at)
    held = _latest.get(snapshot.source)
    if held is not None and held[0] == key:
        _latest.move_to_end(snapshot.source)
        return held[1]
    text = dumps(snapshot_json(snapshot, with_payload=True, form=WEBSOCKET_FORM))
    WEBSOCKET_ENCODES.labels(type="snapshot").inc()
    if held is not None:
        del _latest[snapshot.source]
        _held["chars"] -= len(held[1])
    _latest[snapshot.source] = (key, text)
    _held["chars"] += len(text)
    while _latest and (len(_latest) > MAX_SOURCES or _held["chars"] > MAX_CHARS):
        _source, (_key, dropped) = _latest.popitem(last=False)
        _held["chars"] -= len(dropped)
    return text


def reply_text(reply: dict[str, Any], snapshots: list[str]) -> str:
    """``reply`` (a non-empty object) encoded with ``"snapshots"``, the encoded snapshots, as its last member."""
    head = dumps(reply)
    return f'{head[:-1]},"snapshots":[{",".join(snapshots)}]}}'
