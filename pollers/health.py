"""Where a source stands with its poller: the one home of paused, waiting, circuit open, failing, stale, fresh.

Every reader of a source's health asks here: the API (``health.status``), the dashboards (their card
verdict, and the browser's own staleness clock, which gets ``stale_after_intervals``), the WebSocket
(``source_status`` messages carry the changes named here, announced by the poller through
``pollers.signals.health_changed``) and alerting (``no_success`` rules count from ``without_success_since``).

The facts, each decided once (``assess``):

- **paused**: the source is disabled; the poller skips it.
- **waiting** for the first poll: never polled, and no fresh data seen either.
- **circuit open**: the poller's breaker is open after repeated failures; it tries again after a cool-down.
- **failing**: the latest poll failed (the failure counter is above zero and no success came after the
  last error; a counter left over from before a success does not count).
- **stale**: the newest fresh data is older than ``DASHBOARD_STALE_AFTER_INTERVALS`` (default 2) poll
  intervals, or there is none: the poller is not getting to the source (stopped, overloaded).
- **fresh**: none of the above.

A source that is failing, circuit open or stale is **down since** its newest fresh data
(``SourceHealth.down_since``): what is on screen is its last known state from then.

``SourceHealth.state`` names the first that holds, in that order. "Fresh data" is whatever the caller
has seen: by default the source's last successful poll; the dashboards pass the time their snapshot was
last confirmed, so the verdict matches the numbers on the screen.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from pollers.circuit import CLOSED, OPEN
from pollers.models import Source

# States, as words: the first five are the words the API has always published in ``health.status``.
PAUSED: Final = "disabled"
WAITING: Final = "pending"
FAILING: Final = "failing"
STALE: Final = "stale"
FRESH: Final = "ok"
CIRCUIT_OPEN: Final = "circuit_open"
STATES: Final = (PAUSED, WAITING, CIRCUIT_OPEN, FAILING, STALE, FRESH)

# Changes one poll can make, as the poller announces them (``health_changed``) and browsers receive them
# (``source_status``): the first failure after success, the breaker opening, the first success after either.
RECOVERED: Final = "recovered"
CHANGES: Final = (FAILING, CIRCUIT_OPEN, RECOVERED)


class _FromSource(enum.Enum):
    LAST_SUCCESS = enum.auto()


FROM_SOURCE: Final = _FromSource.LAST_SUCCESS
"""``assess``'s default witness of fresh data: the source's ``last_success_at``."""


def stale_after_intervals() -> int:
    """How many poll intervals data may age before it is stale (``DASHBOARD_STALE_AFTER_INTERVALS``)."""
    return int(settings.DASHBOARD_STALE_AFTER_INTERVALS)


def stale_after(source: Source) -> timedelta:
    return timedelta(seconds=stale_after_intervals() * max(int(source.interval_seconds or 0), 1))


def is_failing(source: Source) -> bool:
    if source.consecutive_failures <= 0:
        return False
    # A success after the last error means the failure counter is from an older run.
    return source.last_success_at is None or (
        source.last_error_at is not None and source.last_error_at >= source.last_success_at
    )


def failing_filter() -> Q:
    """``is_failing`` as a query filter, for lists and counts (the admin, the system page)."""
    after_last_success = Q(last_success_at__isnull=True) | Q(last_error_at__gte=F("last_success_at"))
    return Q(consecutive_failures__gt=0) & after_last_success


def circuit_open_filter() -> Q:
    return Q(circuit_state=OPEN)


def waiting_filter() -> Q:
    """Never polled (and so no success either): waiting for the first poll."""
    return Q(last_polled_at__isnull=True, last_success_at__isnull=True)


def without_success_since(source: Source) -> datetime | None:
    """Since when the source has gone without a successful poll: its last success, else its creation."""
    return source.last_success_at or source.created_at


@dataclass(frozen=True)
class SourceHealth:
    paused: bool
    waiting: bool
    circuit_open: bool
    failing: bool
    stale: bool
    fresh_at: datetime | None  # the newest fresh data the verdict is based on
    age: timedelta | None  # how old that data is

    @property
    def down(self) -> bool:
        """The poller is not getting good data: failing, circuit open or stale (not paused, not waiting)."""
        return not self.paused and not self.waiting and (self.circuit_open or self.failing or self.stale)

    @property
    def down_since(self) -> datetime | None:
        """When the data on screen was last good: the start of the outage, or None when not down or never good."""
        return self.fresh_at if self.down else None

    @property
    def state(self) -> str:
        """The first fact that holds, as one word (see the module docstring)."""
        if self.paused:
            return PAUSED
        if self.waiting:
            return WAITING
        if self.circuit_open:
            return CIRCUIT_OPEN
        if self.failing:
            return FAILING
        if self.stale:
            return STALE
        return FRESH


def assess(
    source: Source, now: datetime | None = None, *, fresh_at: datetime | _FromSource | None = FROM_SOURCE
) -> SourceHealth:
    """The source's health at ``now``; ``fresh_at`` is when the caller last saw fresh data (None: never)."""
    now = now or timezone.now()
    seen = source.last_success_at if isinstance(fresh_at, _FromSource) else fresh_at
    age = now - seen if seen is not None else None
    return SourceHealth(
        paused=not source.enabled,
        waiting=source.last_polled_at is None and seen is None,
        circuit_open=source.circuit_state == OPEN,
        failing=is_failing(source),
        stale=age is None or age > stale_after(source),
        fresh_at=seen,
        age=age,
    )


@dataclass(frozen=True)
class PollHealth:
    """The poller's own health fields, captured before and after a poll to tell what the poll changed."""

    consecutive_failures: int
    circuit_state: str

    @classmethod
    def of(cls, source: Source) -> PollHealth:
        return cls(int(source.consecutive_failures or 0), str(source.circuit_state))


def change(before: PollHealth, after: PollHealth) -> str | None:
    """What one poll changed: FAILING, CIRCUIT_OPEN, RECOVERED, or None (nothing worth announcing).

    A successful poll resets the failure counter, so ``after.consecutive_failures == 0`` means it succeeded.
    A half-open trial that fails opens the breaker again and is announced again.
    """
    if after.consecutive_failures == 0:
        return RECOVERED if before.consecutive_failures > 0 or before.circuit_state != CLOSED else None
    if after.circuit_state == OPEN and before.circuit_state != OPEN:
        return CIRCUIT_OPEN
    if before.consecutive_failures == 0:
        return FAILING
    return None
