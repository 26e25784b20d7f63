"""Alert rules and silences, loaded once per process and reused for every poll until they change.

Evaluating a poll needs the enabled rules and the silences; reading them per poll cost round trips per
poll whatever happened. Here they are loaded together (two queries) into an immutable snapshot tagged
with a **generation**: a value in the shared cache (Redis in production) that every save or delete of a
rule, a silence or a rule's channels replaces (``bump``, from ``alerts.receivers``). Each poll reads
the generation (one cache read, no database) and reloads only when it moved, so a rule saved in the
web process applies to the next poll in every poller.

Rule states are not cached: they are the evaluation's compare-and-set memory and are read per poll, in
one query, only for a source that has rules. Without a working cache (Redis down) the generation cannot
be read; the snapshot is then reused for at most ``FALLBACK_SECONDS``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from django.utils import timezone

from alerts import evaluate
from alerts.models import AlertRule, Silence
from devops_insights import cache_generation
from pollers.models import Source

log = logging.getLogger("alerts")
GENERATION_KEY: Final = "alerts:rules:generation"
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


def bump(*_args: Any, **_kwargs: Any) -> None:
    """Invalidate every process's snapshot (a signal receiver: any arguments)."""
    global _snapshot
    try:
        cache_generation.replace(GENERATION_KEY)
    except Exception as exc:
        # A cache outage: this process reloads at once, the others within FALLBACK_SECONDS.
        log.warning("alert rules changed but the cache is unreachable: %s", type(exc).__name__)
    with _lock:
        _snapshot = None


def current() -> Snapshot:
    """The snapshot for this poll: the cached one while its generation holds, else freshly loaded."""
    global _snapshot
    generation = cache_generation.read(GENERATION_KEY)
    snapshot = _snapshot
    if snapshot is not None:
        if generation is not None and snapshot.generation == generation:
            return snapshot
        if generation is None and time.monotonic() - snapshot.loaded_at < FALLBACK_SECONDS:
            return snapshot
    fresh = _load(generation)
    with _lock:
        _snapshot = fresh
    return fresh


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
