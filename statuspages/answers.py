"""A page's public answers, cached: shared in Redis, and a copy in each process's memory.

Every public answer of a status page (its HTML, ``state.json``, the feeds, the Statuspage v2 JSON, the
badges) is the same for every visitor allowed to read the page, and is made from the page's content
(statuspages/content.py) and from rows whose every change moves the page's generation
(statuspages/receivers.py). Each is cached per page under a name that says everything of the request it
depends on (address root, absolute URLs, badge kind and key), stamped with the generation and the version
of the content it was made from, and served only while that version is the cached content's
(``content.version_key``, read in the same round trip as the generations). So a warm answer is neither
made nor loads the content (thousands of objects to unpickle), opens no database connection, and never
tells other content than ``state.json`` reports. An answer that depends on the time (a maintenance
window's phase, uptime over 24 h) is made again when the content or the answer's own entry expires
(``STATUS_PAGE_CACHE_SECONDS``).

Some answers are large (about 0.5 MB of HTML for 20 components), and under a loaded server every read of
one from Redis is many blocking socket reads. Each process therefore keeps the answers it last served (at
most ``LOCAL_COPIES``, about ``LOCAL_BYTES`` in all) and uses one only when its stamp matches what Redis
says is current and it is younger than ``STATUS_PAGE_CACHE_SECONDS``: a warm request reads a few small
values from Redis, never the answer itself. A kept answer is handed to every request that asks for it, so
answers are immutable values (bytes, frozen dataclasses).

One request makes an answer at a time (per answer and generation, a lock in the cache): under load every
request in flight would otherwise find the answer missing at the same moment (its content expired, or a
change moved the generation) and all of them would query the database at once, more than the pool lends
(``DATABASE_POOL_MAX_SIZE``). While one makes it, the others answer with the copy made under the same
generation when there is one (no change was committed since, only time passed), else wait for the new one
(at most ``WAIT_SECONDS``, holding no database connection), then make it themselves.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, cast

from django.core.cache import cache

from statuspages import generations
from statuspages.busy import release_pooled_connections
from statuspages.content import PageContent, cache_seconds, content_scopes, page_content, version_key
from statuspages.generations import MISSING
from statuspages.models import StatusPage

T = TypeVar("T")

LOCAL_COPIES = 256
LOCAL_BYTES = 32 * 1024 * 1024
_SMALL = 512  # what a kept answer that is not bytes (a badge's words) is counted as
MAKE_LOCK_SECONDS = 60  # a maker that died frees its lock after this
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class _Kept:
    generation: str
    version: str
    answer: object
    made_at: float  # time.time() when it was made, in whichever process
    size: int


# answer key -> what this process kept; insertion order is the eviction order.
_local: dict[str, _Kept] = {}
_local_size = 0
_local_lock = threading.Lock()


def answer_key(page_id: int, name: str) -> str:
    return f"statuspages:answer:{page_id}:{hashlib.sha256(name.encode()).hexdigest()[:16]}"


def cached_answer(page: StatusPage, name: str, make: Callable[[PageContent], T]) -> T:
    """The answer ``name`` of ``page``: kept or cached when current, else ``make(content)``, cached.

    ``make`` may raise (a refusal, an unreadable store): nothing is cached then, so the next request
    tries again.
    """
    key = answer_key(page.pk, name)
    scopes = content_scopes(page)
    current_key = version_key(page.pk)
    generation, found = generations.current_with(scopes, [current_key])
    if generation is None:  # the cache is down: make it every time rather than risk a stale answer
        try:
            return make(page_content(page, generation=None))
        finally:
            release_pooled_connections()
    version = generations.stamped(found.get(current_key), generation)
    fresh_since = time.time() - cache_seconds()
    stale: object = MISSING  # an answer made under this generation, but for other content or too long ago
    local = _local.get(key)
    if local is not None and local.generation == generation:
        if local.version == version and local.made_at > fresh_since:
            return cast(T, local.answer)
        stale = local.answer
    if isinstance(version, str) or stale is MISSING:
        shared = _shared(key, generation, cache.get(key))
        if shared is not None:
            if shared.version == version and shared.made_at > fresh_since:
                _keep(key, shared)
                return cast(T, shared.answer)
            stale = shared.answer if stale is MISSING else stale
    lock = f"{key}:making:{generation}"
    owner = bool(cache.add(lock, 1, MAKE_LOCK_SECONDS))
    if not owner:
        if stale is not MISSING:
            return cast(T, stale)
        waited = _wait_for(key, scopes, generation)
        if waited is not None:
            return cast(T, waited.answer)
    try:
        content = page_content(page, generation=generation)
        answer = make(content)
    finally:
        release_pooled_connections()  # before the answer is sent, not after (statuspages/busy.py)
        if owner:
            cache.delete(lock)
    made = _Kept(generation, content.version, answer, time.time(), _size(answer))
    cache.set(key, (generation, (made.version, made.answer, made.made_at)), cache_seconds())
    _keep(key, made)
    return answer


def _shared(key: str, generation: str, entry: object) -> _Kept | None:
    """The cache's entry at ``key`` when it was made under ``generation``."""
    entry = generations.stamped(entry, generation)
    if isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[0], str):
        return _Kept(generation, entry[0], entry[1], float(entry[2]), _size(entry[1]))
    return None


def _wait_for(key: str, scopes: list[str], generation: str) -> _Kept | None:
    """The answer another request is making under ``generation``, once it is cached; None when it takes
    longer than WAIT_SECONDS or the generation moves again."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        now, found = generations.current_with(scopes, [key])
        if now != generation:
            return None
        made = _shared(key, generation, found.get(key))
        if made is not None:
            _keep(key, made)
            return made
    return None


def _size(answer: object) -> int:
    return len(answer) if isinstance(answer, bytes) else _SMALL


def _keep(key: str, made: _Kept) -> None:
    global _local_size
    with _local_lock:
        old = _local.pop(key, None)
        if old is not None:
            _local_size -= old.size
        _local[key] = made
        _local_size += made.size
        while len(_local) > 1 and (len(_local) > LOCAL_COPIES or _local_size > LOCAL_BYTES):
            _local_size -= _local.pop(next(iter(_local))).size
