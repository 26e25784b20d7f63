"""Observations of the rule kinds that read the metric store: ``burn_rate`` and ``anomaly``.

``alerts.engine`` asks here, once per poll of a source, for the observations of that source's rules
of those kinds, and hands them to ``alerts.evaluate`` in ``PollFacts.measured``; from there they go
through the same ``step`` (hysteresis), silences, compare-and-set and deliveries as every other kind.

- burn_rate: the rule's window pairs (``metrics.slo.decide``) over the source's counts as of the end
  of the poll's minute, so the poll that shows a burn is already counted (availability: the windows of
  ``alerts.burn_windows``, shared by all burn-rate rules of the source: a share of one read per minute
  for every covered source, and one small read of the last two minutes per poll; metric objectives:
  one rollup read per rule). Holds when any pair fires; a window without events says nothing (None).
- anomaly: the last complete hour's rollup mean of the rule's metric against the same hour of the
  week over the last weeks (seasonal) and/or the other sources the rule covers at that hour (peers),
  with ``metrics.anomaly.robust_score``. Judged once per hour per (rule, source), by the source's
  first poll at or after its minute of the hour (``alerts.anomaly_spread``: the hour's scoring spread
  over its first minutes) once the hour is rolled up whole (``_rolled_up_since``, or ``ROLLUP_GRACE``
  after it); other polls of the hour say nothing, so ``fire_after`` counts hours. The
  rollups read are only the hours scored (the hour and the same hour of the week in each of the last
  weeks), for every covered source of the same minute in one read by the first of them
  (``_seasonal_means``); peer comparison reads the hour of every covered source once
  (``_peer_means``).

The judged hour is remembered in this process (``_judged``) and in the rule state's ``last_value``
(``hour``): a verdict that moves the state is written with it, so no process judges that hour again,
restarted or not; a verdict that moves nothing (a usual hour of an idle rule, or no baseline) is not
written, and judging it again (a restarted process) gives the same verdict and again writes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import IntegerField
from django.db.models.functions import Mod

from alerts import anomaly_spread
from alerts.burn_windows import availability_windows
from alerts.evaluate import ANOMALY, BURN_RATE, Observation
from metrics import anomaly, slo
from metrics.availability import bucket_start
from metrics.lifecycle import maintenance
from metrics.stores import get_store
from metrics.stores.base import MetricStore
from objectives.attainment import good_minute_counts, rollup_reader
from pollers.models import Source

log = logging.getLogger("alerts")
HOUR = timedelta(hours=1)

_lock = threading.Lock()
_judged: dict[tuple[int, int], datetime] = {}  # (rule, source) -> the hour an anomaly rule last judged
# (rule, metric, hour, spread, slot) -> slug -> {hour: mean}: the seasonal hours of a slot's covered sources.
_seasonal: dict[tuple[int, str, datetime, int, int], dict[str, dict[datetime, float]]] = {}
# (rule, metric, hour) -> slug -> that hour's mean: every covered source's, for peer comparison.
_peers: dict[tuple[int, str, datetime], dict[str, float]] = {}
MAX_REMEMBERED = 100_000
# An hour is judged once a rollup run that started after it ended has finished (the retention step's marker,
# ``maintenance.rolled_up_at``), so on all of its minutes. Without that by this long after the hour (rollups from
# cron less often, or a cache the poller does not share with them) it is judged on what is stored then.
ROLLUP_GRACE = timedelta(minutes=30)
# While waiting for the marker a process reads it from the cache at most this often (by poll time), not per poll.
ROLLUP_LOOK_EVERY = timedelta(seconds=15)
_rolled_up_at = 0.0  # the newest marker this process has seen (epoch seconds)
_looked_at: datetime | None = None  # the poll time of its last read of the marker


def observe_all(rules: Sequence[Any], source: Any, at: datetime, states: Mapping[int, Any]) -> dict[str, Observation]:
    """The observations of ``rules`` (AlertRule rows of the measured kinds) for ``source``'s poll at ``at``."""
    store = get_store()
    found: dict[str, Observation] = {}
    burn = [rule for rule in rules if rule.kind == BURN_RATE]
    if burn:
        found.update(_burn_observations(store, burn, source, at))
    judged: list[tuple[tuple[int, int], datetime]] = []
    for rule in rules:
        if rule.kind == ANOMALY:
            observation = _anomaly_observation(store, rule, source, at, states.get(rule.pk), judged)
            if observation is not None:
                found[f"rule:{rule.pk}"] = observation
    # Remembered only once every observation is made: when a later rule's read fails, the engine drops them
    # all, and an hour remembered as judged here would never be judged again by this process.
    with _lock:
        if len(_judged) + len(judged) > MAX_REMEMBERED:
            _judged.clear()
        _judged.update(judged)
    return found


# --- burn rate ------------------------------------------------------------------------------------


def _burn_observations(store: MetricStore, rules: Sequence[Any], source: Any, at: datetime) -> dict[str, Observation]:
    as_of = at + timedelta(minutes=1)  # the end of the poll's minute: this poll is counted
    names: set[str] = set()
    for rule in rules:
        for pair in rule.burn_pairs():
            names.update((pair.long_window, pair.short_window))
    ordered = sorted(names)
    availability: dict[str, slo.Counts] | None = None
    found = {}
    for rule in rules:
        objective = rule.objective
        if objective.kind == objective.Kind.METRIC:
            _, windows = good_minute_counts(
                store,
                [source.slug],
                objective.metric,
                objective.operator,
                float(objective.bound),
                as_of,
                as_of,
                as_of,
                ordered,
            )
        else:
            if availability is None:  # the source's own polls: one read for every availability rule
                availability = availability_windows(store, objective, source, at, ordered)
            windows = availability
        found[f"rule:{rule.pk}"] = burn_observation(objective.name, objective.slo(), windows, rule.burn_pairs())
    return found


def burn_observation(
    name: str, target: slo.Objective, windows: Mapping[str, slo.Counts], pairs: Sequence[slo.BurnRateCondition]
) -> Observation:
    """Whether any pair burns at its threshold, with every window's rate (JSON) for events and pages.

    A pair with an empty window cannot fire and is left out (a fresh source has no 3-day history, and
    must still page on a fast burn); when every pair has an empty window the poll says nothing.
    """
    seen: dict[str, Any] = {"objective": name, "target_percent": float(target.target_percent)}
    results: list[slo.ConditionResult] = []
    empty = []
    for pair in pairs:
        try:
            results.extend(slo.decide(windows, target, [pair]).results)
        except slo.NoData:
            empty.append(f"{pair.long_window}/{pair.short_window}")
    if empty:
        seen["no_data"] = empty
    if not results:
        return Observation(None, seen)
    decision = slo.BurnDecision(tuple(results))
    rates = {}
    for result in decision.results:
        rates[result.condition.long_window] = round(float(result.long_rate), 3)
        rates[result.condition.short_window] = round(float(result.short_rate), 3)
    seen["burn_rates"] = rates
    seen["firing"] = [
        f"{float(r.condition.threshold):g}x {r.condition.long_window}/{r.condition.short_window}"
        for r in decision.firing
    ]
    seen["value"] = max(rates.values(), default=0.0)
    if decision.severity is not None:
        seen["burn_severity"] = decision.severity
    return Observation(bool(decision.firing), seen)


# --- anomaly --------------------------------------------------------------------------------------


def _anomaly_observation(
    store: MetricStore, rule: Any, source: Any, at: datetime, state: Any, judged: list[tuple[tuple[int, int], datetime]]
) -> Observation | None:
    """The verdict on the source's last complete hour, or None when it is not this poll's to judge; the judged
    hour is added to ``judged`` for the caller to remember."""
    hour_start = bucket_start(at, "1h")
    hour = hour_start - HOUR  # the last complete hour
    key = (rule.pk, source.pk)
    last = state.last_value if state is not None and isinstance(state.last_value, dict) else {}
    with _lock:
        if _judged.get(key) == hour or last.get("hour") == hour.isoformat():
            return None
    spread = anomaly_spread.spread_minutes()
    if not anomaly_spread.due(source, at, hour_start, spread):
        return None  # the source's minute of the hour has not come yet: says nothing, as a judged hour's polls
    if not _rolled_up_since(hour_start, at) and at < hour_start + ROLLUP_GRACE:
        # Not rolled up whole yet (no rollup, or one of part of its minutes): says nothing and is not remembered,
        # so a later poll judges it, once, when it is.
        return None
    mode = rule.anomaly_mode or rule.AnomalyMode.SEASONAL
    sensitivity = rule.anomaly_sensitivity()
    metric = rule.metric
    weeks = anomaly.DEFAULT_WEEKS
    reader = rollup_reader(store)
    means = _seasonal_means(reader, rule, source, hour, weeks, spread)
    seen: dict[str, Any] = {"metric": metric, "hour": hour.isoformat(), "mode": mode, "sensitivity": sensitivity}
    value = means.get(hour)
    holds: bool | None = None
    if value is not None:
        seen["value"] = round(value, 6)
        verdicts = []
        if mode in ("seasonal", "both"):
            baseline = [means[h] for h in _seasonal_hours(hour, weeks)[1:] if h in means]
            verdicts.append(_score(seen, "seasonal", value, baseline, sensitivity))
        if mode in ("peer", "both"):
            peers = _peer_means(reader, rule, hour)
            others = [v for slug, v in peers.items() if slug != source.slug]
            verdicts.append(_score(seen, "peer", value, others, sensitivity))
        decided = [v for v in verdicts if v is not None]
        holds = any(decided) if decided else None
    judged.append((key, hour))
    return Observation(holds, seen)


def _rolled_up_since(moment: datetime, at: datetime) -> bool:
    """Whether a rollup run of every source that started at or after ``moment`` has finished.

    No store read: the marker the retention step leaves in the cache, which this process reads at most once
    per ``ROLLUP_LOOK_EVERY`` of poll time while the marker is older than ``moment`` (once it is newer, not at
    all until the next hour)."""
    global _rolled_up_at, _looked_at
    wanted = moment.timestamp()
    with _lock:
        if _rolled_up_at >= wanted:
            return True
        if _looked_at is not None and _looked_at <= at < _looked_at + ROLLUP_LOOK_EVERY:
            return False
        _looked_at = at
    try:
        found = maintenance.rolled_up_at()
    except Exception:
        # The cache out of reach: not known to be rolled up, so the hour waits (at most ROLLUP_GRACE).
        log.warning("anomaly rules: cannot read when the hours were last rolled up", exc_info=True)
        return False
    with _lock:
        if found is not None and found > _rolled_up_at:
            _rolled_up_at = found
        return _rolled_up_at >= wanted


def _seasonal_hours(hour: datetime, weeks: int) -> list[datetime]:
    """The hours a seasonal verdict reads: ``hour`` and the same hour of the week in each of ``weeks`` weeks."""
    return [hour - k * anomaly.HOURS_PER_WEEK * HOUR for k in range(weeks + 1)]


def _seasonal_means(
    reader: Any, rule: Any, source: Any, hour: datetime, weeks: int, spread: int
) -> dict[datetime, float]:
    """``source``'s hourly means of the rule's metric at ``_seasonal_hours`` (hours without a rollup left out).

    The first source of a slot (``alerts.anomaly_spread``) judged in an hour reads them for every source
    of that slot the rule covers in ONE ``rollups_of`` read (weeks + 1 hours each, never the weeks
    between); the slot's others take theirs from that batch. A source the batch has no mean of ``hour``
    for (not covered then, or not rolled up yet when the batch was read) reads its own hours again, so
    its verdict is what its own read at its own poll would give.
    """
    hours = _seasonal_hours(hour, weeks)
    slot = anomaly_spread.slot_of(source.pk, spread)
    key = (rule.pk, rule.metric, hour, spread, slot)
    with _lock:
        batch = _seasonal.get(key)
    if batch is None:
        slugs = {peer.slug for peer in _covered(rule, spread, slot)} | {source.slug}
        batch = _means_by_source(reader.rollups_of(sorted(slugs), "1h", rule.metric, starts=hours), slugs)
        with _lock:
            for stale in [k for k in _seasonal if k[2] != hour]:  # one hour's batches (its slots) at a time
                del _seasonal[stale]
            _seasonal[key] = batch
    means = batch.get(source.slug)
    if means is None or hour not in means:
        means = _means_by_source(reader.rollups_of([source.slug], "1h", rule.metric, starts=hours), {source.slug})[
            source.slug
        ]
    return means


def _means_by_source(buckets: Iterable[Any], slugs: Iterable[str]) -> dict[str, dict[datetime, float]]:
    means: dict[str, dict[datetime, float]] = {slug: {} for slug in slugs}
    for bucket in buckets:
        if bucket.count:
            means.setdefault(bucket.source, {})[bucket.start] = bucket.avg
    return means


def _score(seen: dict[str, Any], name: str, value: float, baseline: list[float], sensitivity: float) -> bool | None:
    try:
        score = anomaly.robust_score(value, baseline, sensitivity=sensitivity)
    except anomaly.NoBaseline:
        seen[name] = {"baseline": len(baseline)}
        return None
    seen[name] = {"median": round(score.median, 6), "z": round(score.z, 3), "flagged": score.flagged}
    return score.flagged


def _covered(rule: Any, spread: int = 1, slot: int = 0) -> list[Any]:
    """The enabled sources of the rule's team it covers (of one slot when ``spread`` > 1), in one query."""
    candidates = Source.objects.filter(team_id=rule.team_id, enabled=True)
    if spread > 1:
        # The slot in SQL: each minute of the spread reads its share of the sources, not all of them.
        candidates = candidates.alias(slot=Mod("pk", spread, output_field=IntegerField())).filter(slot=slot)
    return [peer for peer in candidates.only("pk", "slug", "tags", "team_id") if rule.applies_to(peer)]


def _peer_means(reader: Any, rule: Any, hour: datetime) -> dict[str, float]:
    """slug -> mean of ``hour`` of every covered source with a rollup of it: ONE read per process, rule and hour.

    Peer comparison needs every covered source's hour, whichever slot is judged: one hour per source (a
    fifth of a seasonal read), read by the first peer verdict of the hour, from the covered sources then.
    """
    key = (rule.pk, rule.metric, hour)
    with _lock:
        found = _peers.get(key)
    if found is None:
        slugs = sorted(peer.slug for peer in _covered(rule))
        found = {b.source: b.avg for b in reader.rollups_of(slugs, "1h", rule.metric, starts=[hour]) if b.count}
        with _lock:
            for stale in [k for k in _peers if k[2] != hour]:
                del _peers[stale]
            _peers[key] = found
    return found


def forget() -> None:
    """Drop the per-process memory (tests, and a rule saved: its next poll judges the hour again)."""
    global _rolled_up_at, _looked_at
    with _lock:
        _judged.clear()
        _seasonal.clear()
        _peers.clear()
        _rolled_up_at = 0.0
        _looked_at = None
