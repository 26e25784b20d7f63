"""One verdict per source for the dashboards: ok, degraded, error, unreachable or stale.

The verdict combines four witnesses, most decisive first:
1. poll health (the poller cannot fetch the source: failing polls or an open circuit) -> unreachable;
2. age of the data (no data yet, or the snapshot is stale by ``pollers.health``'s rule) -> stale;
3. what the payload and the alert evaluator say (``status`` other than ok, a critical alert) -> error;
4. softer signs (a warning alert, a dependency down, a server issue reported) -> degraded.
Rules 1 and 2 are ``pollers.health``'s; this module only words them for a card. The browser re-applies
rule 2 on its own as the clock ticks (static/js/overview.js), since no message arrives to say that
nothing arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from metrics.stores.base import Snapshot
from pollers import health
from pollers.models import Source, SourceAlertLevel

OK = "ok"
DEGRADED = "degraded"
ERROR = "error"
UNREACHABLE = "unreachable"
STALE = "stale"
WAITING = "waiting"  # a new source, never polled yet: not stale, just new

# Worst first: sorting by status puts what needs attention at the top.
SEVERITY = {ERROR: 0, UNREACHABLE: 1, STALE: 2, DEGRADED: 3, WAITING: 4, OK: 5}
STATUSES = tuple(SEVERITY)
LABELS = {
    OK: "OK",
    DEGRADED: "Degraded",
    ERROR: "Error",
    UNREACHABLE: "Unreachable",
    STALE: "Stale",
    WAITING: "Waiting",
}

# Error kinds a card words differently from the bare kind: "internal" is our own failure, not the upstream's.
ERROR_KIND_LABELS = {"internal": "internal error"}

# Payload ``status`` values that mean healthy; anything else a source reports is an error.
HEALTHY_WORDS = frozenset({"ok", "up", "healthy", "pass", "passing", "green", "operational", "online"})


# Not a verdict of the server: what the browser shows while the server does not answer (static/js/live.js).
UNKNOWN = "unknown"
CLIENT_LABELS = {**LABELS, UNKNOWN: "Unknown"}
CLIENT_SEVERITY = {**SEVERITY, UNKNOWN: len(SEVERITY)}


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str
    down_since: datetime | None = None  # unreachable or stale: when the data shown was last good

    @property
    def last_known(self) -> bool:
        """The numbers shown are the last known ones, not current: dim them and say since when."""
        return self.status in (UNREACHABLE, STALE)

    @property
    def label(self) -> str:
        return LABELS[self.status]

    @property
    def severity(self) -> int:
        return SEVERITY[self.status]


def last_seen(source: Source, snapshot: Snapshot | None) -> datetime | None:
    """When the source's data was last confirmed fresh (fetched, changed or not)."""
    if snapshot is None:
        return None
    return max(snapshot.last_seen_at, snapshot.fetched_at)


def services_down(payload: dict[str, Any]) -> list[str]:
    services = _results(payload).get("services")
    if not isinstance(services, dict):
        return []
    return sorted(name for name, up in services.items() if up is False)


def _results(payload: dict[str, Any]) -> dict[str, Any]:
    results = payload.get("results")
    return results if isinstance(results, dict) else {}


def derive_status(source: Source, snapshot: Snapshot | None, now: datetime) -> Verdict:
    # A disabled source's page still shows how its polls and data stood: "paused" is not a card verdict.
    polls = health.assess(source, now, fresh_at=last_seen(source, snapshot))
    if polls.circuit_open:
        return Verdict(UNREACHABLE, "circuit open after repeated failures", polls.down_since)
    if polls.failing:
        kind = ERROR_KIND_LABELS.get(source.last_error_kind, source.last_error_kind or "error")
        n = source.consecutive_failures
        return Verdict(UNREACHABLE, f"last {n} poll{'s' if n != 1 else ''} failed ({kind})", polls.down_since)

    if polls.waiting:
        return Verdict(WAITING, "waiting for first poll")
    if snapshot is None or polls.age is None:
        return Verdict(STALE, "no data yet")
    if polls.stale:
        return Verdict(STALE, f"no fresh data for {_duration(polls.age)}", polls.down_since)

    payload = snapshot.payload if isinstance(snapshot.payload, dict) else {}
    reported = payload.get("status")
    if source.alert_state == SourceAlertLevel.CRITICAL:
        return Verdict(ERROR, "critical alert firing")
    if isinstance(reported, str) and reported.strip().lower() not in HEALTHY_WORDS:
        return Verdict(ERROR, f"source reports status “{reported[:40]}”")

    if source.alert_state == SourceAlertLevel.DEGRADED:
        return Verdict(DEGRADED, "warning alert firing")
    down = services_down(payload)
    if down:
        named = ", ".join(name[:40] for name in down[:5])  # upstream names: bounded in the reason line
        more = f" and {len(down) - 5} more" if len(down) > 5 else ""
        return Verdict(DEGRADED, f"{named}{more} down")
    if payload.get("server_issue"):
        return Verdict(DEGRADED, "server issue reported")
    return Verdict(OK, "all checks pass")


def down_since_text(since: datetime, now: datetime) -> str:
    """``down since 19:30 (8 min)``: the clock time in UTC, 24-hour, and how long ago."""
    return f"down since {since.astimezone(UTC):%H:%M} ({_duration(now - since)})"


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"
