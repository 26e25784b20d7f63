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
one from Redis is many blocking socket reads on the one thread that runs the views. Each process
therefore keeps the answers it last served (at most ``LOCAL_COPIES``, about ``LOCAL_BYTES`` in all) and
uses one only when its stamp matches what Redis says is current: a warm request reads a few small values
from Redis, never the answer itself. A kept answer is handed to every request that asks for it, so answers
are immutable values (bytes, frozen dataclasses).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import TypeVar, cast

from django.core.cache import cache

from statuspages import generations
from statuspages.content import PageContent, cache_seconds, content_scopes, page_content, version_key
from statuspages.models import StatusPage

T = TypeVar("T")

LOCAL_COPIES = 256
LOCAL_BYTES = 32 * 1024 * 1024
_SMALL = 512  # what a kept answer that is not bytes (a badge's words) is counted as

# answer key -> (generation, content version, answer, counted size); insertion order is the eviction order.
_local: dict[str, tuple[str, str, object, int]] = {}
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
    current_key = version_key(page.pk)
    generation, found = generations.current_with(content_scopes(page), [current_key])
    if generation is None:  # the cache is down: make it every time rather than risk a stale answer
        return make(page_content(page, generation=None))
    version = generations.stamped(found.get(current_key), generation)
    if isinstance(version, str):
        local = _local.get(key)
        if local is not None and local[:2] == (generation, version):
            return cast(T, local[2])
        shared = generations.stamped(cache.get(key), generation)
        if isinstance(shared, tuple) and len(shared) == 2 and shared[0] == version:
            _keep(key, generation, version, shared[1])
            return cast(T, shared[1])
    content = page_content(page, generation=generation)
    answer = make(content)
    cache.set(key, (generation, (content.version, answer)), cache_seconds())
    _keep(key, generation, content.version, answer)
    return answer


def _keep(key: str, generation: str, version: str, answer: object) -> None:
    global _local_size
    size = len(answer) if isinstance(answer, bytes) else _SMALL
    with _local_lock:
        old = _local.pop(key, None)
        if old is not None:
            _local_size -= old[3]
        _local[key] = (generation, version, answer, size)
        _local_size += size
        while len(_local) > 1 and (len(_local) > LOCAL_COPIES or _local_size > LOCAL_BYTES):
            _local_size -= _local.pop(next(iter(_local)))[3]
