"""Alert rules and silences, loaded once per process and reused for every poll until they change.

Evaluating a poll needs the enabled rules and the silences; reading them per poll cost round trips per
poll whatever happened. Here they are loaded together (two queries) into an immutable snapshot tagged
with a **generation**: a value in the shared cache (Redis in production) that every save or delete of a
rule, a silence or a rule's channels replaces (``bump``, from ``alerts.receivers``; a migration that changes
rules replaces it through ``alerts.rule_generation``, the key's home). A poll reads the
generation (one cache read: Redis, or without it a row of the shared cache table) only when this process
last read it ``ALERT_RULES_RECHECK_SECONDS`` ago or more, and reloads only when it moved: a rule saved in
the web process applies within that interval in every poller, and a ``bump`` in this process drops its
snapshot at once, so its own next poll reloads.

Rule states are not cached: they are the evaluation's compare-and-set memory and are read per poll, in
one query, only for a source that has rules. Without a working cache (Redis down) the generation cannot
be read; the snapshot is then reused for at most ``FALLBACK_SECONDS``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from django.conf import settings
from django.utils import timezone

from alerts import evaluate
from alerts.models import AlertRule, Silence
from alerts.rule_generation import GENERATION_KEY, announce_rules_changed
from devops_insights import cache_generation
from pollers.models import Source

FALLBACK_SECONDS: Final = 5.0


@dataclass(frozen=True)
class CachedRule:
    rule: AlertRule
    condition: evaluate.Condition
    timing: evaluate.Timing


@dataclass(frozen=True)
class SilenceWindow:
    source_id: int | None
    tag: str
    starts_at: datetime
    ends_at: datetime
    team_id: int | None = None

    def covers(self, source: Source, at: datetime) -> bool:
        if not self.starts_at <= at < self.ends_at:
            return False
        # A team's silence never quiets another team's sources, whatever their tags.
        if self.team_id is not None and self.team_id != source.team_id:
            return False
        if self.source_id is not None:
            return self.source_id == source.pk
        return bool(self.tag) and self.tag in (source.tags or [])


@dataclass(frozen=True)
class Snapshot:
    generation: str | None
    loaded_at: float
    rules: tuple[CachedRule, ...]
    silences: tuple[SilenceWindow, ...]
    silences_from: datetime  # the silences loaded are those not over at this time

    def rules_for(self, source: Source) -> list[CachedRule]:
        return [cached for cached in self.rules if cached.rule.applies_to(source)]

    def silenced(self, source: Source, at: datetime) -> bool | None:
        """Whether a silence covers the source at ``at``; None before the snapshot's time (ask the database)."""
        if at < self.silences_from:
            return None
        return any(window.covers(source, at) for window in self.silences)


_lock = threading.Lock()
_snapshot: Snapshot | None = None
# When this process last found the snapshot's generation current (time.monotonic()).
_checked_at = 0.0
# Counts this process's bumps: a snapshot loaded while one happened is kept but not trusted until read again.
_bumps = 0


def bump(*_args: Any, **_kwargs: Any) -> None:
    """Invalidate every process's snapshot (a signal receiver: any arguments)."""
    global _snapshot, _bumps
    # On a cache outage this process still reloads at once (below), the others within FALLBACK_SECONDS.
    announce_rules_changed()
    with _lock:
        _snapshot = None
        _bumps += 1


def forget() -> None:
    """Drop this process's snapshot without telling the others (tests: the database was rolled back)."""
    global _snapshot, _checked_at
    with _lock:
        _snapshot = None
        _checked_at = 0.0


def current() -> Snapshot:
    """The snapshot for this poll: the kept one while its generation holds (read at most once per
    ``ALERT_RULES_RECHECK_SECONDS``), else freshly loaded."""
    global _snapshot, _checked_at
    snapshot = _snapshot
    started = time.monotonic()
    if (
        snapshot is not None
        and snapshot.generation is not None
        and started - _checked_at < settings.ALERT_RULES_RECHECK_SECONDS
    ):
        return snapshot
    bumps = _bumps
    generation = cache_generation.read(GENERATION_KEY)
    if snapshot is not None:
        if generation is not None and snapshot.generation == generation:
            _trust(snapshot, started, bumps)
            return snapshot
        if generation is None and started - snapshot.loaded_at < FALLBACK_SECONDS:
            return snapshot
    fresh = _load(generation)
    _trust(fresh, started, bumps)
    return fresh


def _trust(snapshot: Snapshot, checked_at: float, bumps: int) -> None:
    """Keep ``snapshot``, found current at ``checked_at``, unless this process bumped since it read the
    generation: what it loaded may predate that change, so the next poll reads the generation again."""
    global _snapshot, _checked_at
    with _lock:
        if _bumps != bumps:
            return
        _snapshot = snapshot
        _checked_at = checked_at


def _load(generation: str | None) -> Snapshot:
    rules = []
    # The objective and its sources come along: a burn-rate rule's applies_to then needs no query.
    for rule in (
        AlertRule.objects.enabled().select_related("objective").prefetch_related("objective__sources").order_by("pk")
    ):
        if rule.objective is not None:
            rule.objective.source_ids()
        rules.append(CachedRule(rule=rule, condition=rule.condition(), timing=rule.timing()))
    now = timezone.now()
    silences = tuple(
        SilenceWindow(s.source_id, s.tag.strip(), s.starts_at, s.ends_at, s.team_id)
        for s in Silence.objects.filter(ends_at__gt=now).only("source_id", "tag", "starts_at", "ends_at", "team_id")
    )
    return Snapshot(
        generation=generation, loaded_at=time.monotonic(), rules=tuple(rules), silences=silences, silences_from=now
    )
