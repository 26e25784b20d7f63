"""The public page's rendered HTML, cached: shared in Redis, and a copy in each process's memory.

Rendering ninety bars per component is most of a cold request's time, and the HTML is the same for
every visitor allowed to see the page. It is cached per page, address root and preview, stamped with
the generation (statuspages/generations.py) and the version of the content it was rendered from, and
served only while that version is the cached content's (``content.version_key``, read in the same round
trip as the generations). So a warm request neither renders nor loads the content (thousands of objects
to unpickle), and never shows other content than ``state.json`` reports.

The HTML is large (about 0.5 MB for 20 components), and under a loaded server every read of it from
Redis is many blocking socket reads on the one thread that runs the views. Each process therefore keeps
the copies it last served (at most ``LOCAL_COPIES``) and uses one only when its stamp matches what Redis
says is current: the warm path reads a few small values from Redis, never the HTML itself.
"""

from __future__ import annotations

import hashlib
import threading

from django.core.cache import cache
from django.template import loader

from statuspages import generations
from statuspages.content import PageContent, cache_seconds, content_scopes, page_content, version_key
from statuspages.models import StatusPage

LOCAL_COPIES = 16

# html key -> (generation, content version, HTML); insertion order is the eviction order.
_local: dict[str, tuple[str, str, bytes]] = {}
_local_lock = threading.Lock()


def page_html(page: StatusPage, root: str) -> bytes:
    """The page rendered for ``root`` (its address root, statuspages/public.py ``page_root``), UTF-8."""
    preview = not page.published
    key = f"statuspages:html:{page.pk}:{hashlib.sha256(root.encode()).hexdigest()[:12]}:{int(preview)}"
    current_key = version_key(page.pk)
    generation, found = generations.current_with(content_scopes(page), [current_key])
    if generation is None:  # the cache is down: render every time rather than risk a stale page
        return _render(page, page_content(page, generation=None), root, preview)
    version = generations.stamped(found.get(current_key), generation)
    if isinstance(version, str):
        local = _local.get(key)
        if local is not None and local[:2] == (generation, version):
            return local[2]
        shared = generations.stamped(cache.get(key), generation)
        if isinstance(shared, tuple) and len(shared) == 2 and shared[0] == version:
            _keep(key, generation, version, bytes(shared[1]))
            return bytes(shared[1])
    content = page_content(page, generation=generation)
    html = _render(page, content, root, preview)
    cache.set(key, (generation, (content.version, html)), cache_seconds())
    _keep(key, generation, content.version, html)
    return html


def _render(page: StatusPage, content: PageContent, root: str, preview: bool) -> bytes:
    # Without the request: no context processor runs, so nothing reads the session or the user and no
    # CSRF token can be asked for. The page is the same for every visitor allowed to see it.
    context = {"page": page, "content": content, "root": root, "preview": preview}
    return loader.render_to_string("statuspages/public/page.html", context).encode()


def _keep(key: str, generation: str, version: str, html: bytes) -> None:
    with _local_lock:
        _local.pop(key, None)
        _local[key] = (generation, version, html)
        while len(_local) > LOCAL_COPIES:
            del _local[next(iter(_local))]
