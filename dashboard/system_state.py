"""Whether the whole product is working, for the banner on every dashboard page.

Two facts the cards cannot show one by one: no poller has a heartbeat (every card will go stale, one by
one, without saying why), and the metric store does not answer (every number is missing). Pages render
the banner from ``current()`` and the browser asks ``/system/state.json`` every ``CHECK_EVERY_SECONDS``
(static/js/live.js) to show or clear it without a reload; the answer is cached for ``CACHE_SECONDS`` so
that many open pages cost one check.

The cached answer is dropped as soon as one of its inputs is known to have changed (``forget``, connected in
``DashboardConfig.ready``): a poller process starting or stopping cleanly (``pollers.signals``), and the metric
store failing after answering, or answering after failing, in this process (``metrics.signals``). The next
page or check then asks again instead of showing the old state for up to ``CACHE_SECONDS``. The cache is the
default one: with ``REDIS_URL`` shared by every process, so a poller's start or stop reaches every web
process at once; without it each process's own memory, so only what happens in the same process does. A
poller that dies without stopping is noticed by its heartbeat's age (``POLLER_ALIVE_WITHIN``), as before.
These are transitions, never per request: no page reads more than it did.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from django.core.cache import cache

from metrics.stores import get_store
from pollers.models import PollerProcess

log = logging.getLogger(__name__)

CHECK_EVERY_SECONDS: Final = 10
CACHE_SECONDS: Final = 5
# The same window as the system page's "alive": pollers beat every few seconds (pollers/loop.py).
POLLER_ALIVE_WITHIN: Final = timedelta(seconds=30)
_CACHE_KEY: Final = "dashboard:system-state"
_PROBE_SLUG: Final = "__system_state_probe__"


@dataclass(frozen=True)
class SystemState:
    pollers_alive: int
    store_ok: bool

    @property
    def problems(self) -> list[str]:
        out = []
        if self.pollers_alive == 0:
            seconds = int(POLLER_ALIVE_WITHIN.total_seconds())
            out.append(f"No poller is running (no heartbeat in {seconds} s): the data below is not being refreshed.")
        if not self.store_ok:
            out.append("The metric store does not answer: numbers may be missing or out of date.")
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "pollers_alive": self.pollers_alive,
            "store_ok": self.store_ok,
            "problems": self.problems,
            "check_every_seconds": CHECK_EVERY_SECONDS,
        }


def _store_ok() -> bool:
    store = get_store()
    # Past the read cache (a cached answer proves nothing), with an indexed read of a slug that never exists.
    backend = getattr(store, "backend_store", store)
    try:
        backend.latest(_PROBE_SLUG)
    except Exception as exc:  # any failure is what this check reports
        log.warning("system state: the metric store did not answer: %s", type(exc).__name__)
        return False
    return True


def _pollers_alive() -> int:
    return int(PollerProcess.objects.alive(POLLER_ALIVE_WITHIN).count())


def check() -> SystemState:
    return SystemState(pollers_alive=_pollers_alive(), store_ok=_store_ok())


def forget(sender: Any = None, **kwargs: Any) -> None:
    """Drop the cached state: its inputs changed (a receiver of ``poller_process_changed`` and
    ``store_availability_changed``)."""
    cache.delete(_CACHE_KEY)


def current() -> SystemState:
    """The state, at most ``CACHE_SECONDS`` old."""
    cached = cache.get(_CACHE_KEY)
    if isinstance(cached, dict):
        return SystemState(**cached)
    state = check()
    cache.set(_CACHE_KEY, {"pollers_alive": state.pollers_alive, "store_ok": state.store_ok}, CACHE_SECONDS)
    return state
