"""Alert evaluation as pure functions: what one poll says about a rule, and what the rule does next.

No database and no clock here (``PollFacts.from_poll`` takes the source's health facts from
``pollers.health``, which reads only the row it is given): ``alerts.engine`` loads rules and states,
calls these functions and writes what they return. Everything time-based uses the poll's own time, so the same polls
always give the same alerts, whichever process evaluates them.

Semantics (docs/alerting.md says the same for users):

- ``observe`` turns a poll into ``holds`` True, False or None. None means the poll says nothing
  about the condition (a failed poll for a metric rule, a missing metric, a non-numeric value
  under ``>``): it neither advances nor resets the streaks.
- ``step`` moves a state inactive -> pending -> firing after ``fire_after`` consecutive polls
  where the condition held *and* at least ``for_seconds`` since it first held; a firing state
  resolves after ``resolve_after`` consecutive polls where it did not hold.
- Notifications: a firing notification goes out at most once per ``renotify`` interval per
  (rule, source): the first time it fires, then as a reminder while it keeps firing. A resolved
  notification follows only a firing that was notified. So a flapping source sends one firing
  notification (and its resolution) per interval, however often it flaps; every transition is
  still recorded as an event. While silenced nothing is notified; a firing that outlives its
  silence is notified at the next poll.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

from alerts.conditions import MISSING, compare, literal_text, resolve_path
from pollers import health

# Condition kinds.
METRIC: Final = "metric"  # an extracted metric against a threshold
FIELD: Final = "field"  # a payload field against a JSON literal
POLL_FAILURES: Final = "poll_failures"  # N consecutive failed polls
CIRCUIT_OPEN: Final = "circuit_open"  # the poller's circuit breaker is open
STALE_HASH: Final = "stale_hash"  # payload hash unchanged for N successful polls (a frozen upstream)
NO_SUCCESS: Final = "no_success"  # no successful poll for a duration
BURN_RATE: Final = "burn_rate"  # an objective's error budget burns fast on a pair of windows (metrics.slo)
ANOMALY: Final = "anomaly"  # a metric's last hour is unusual for its season or its peers (metrics.anomaly)
# Kinds whose observation is measured outside this module (alerts.measured reads the store) and handed
# in through ``PollFacts.measured``; observe() only passes it on.
MEASURED_KINDS: Final = frozenset({BURN_RATE, ANOMALY})

MAX_SHOWN_STRING = 300

# State statuses.
INACTIVE: Final = "inactive"
PENDING: Final = "pending"
FIRING: Final = "firing"

# Transitions and notification reasons.
FIRED: Final = "fired"
RESOLVED: Final = "resolved"
REMINDER: Final = "reminder"


@dataclass(frozen=True)
class Condition:
    kind: str
    subject: str = ""  # the metric name (METRIC) or the dotted path (FIELD)
    path: tuple[str, ...] = ()  # FIELD: ``subject`` parsed
    operator: str = ""
    expected: Any = None  # the threshold (METRIC) or the JSON literal (FIELD)
    count: int = 1  # POLL_FAILURES: failures; STALE_HASH: unchanged polls
    seconds: float = 0.0  # NO_SUCCESS: how long without a successful poll
    key: str = ""  # MEASURED_KINDS: which entry of ``PollFacts.measured`` is this rule's
    summary: str = ""  # MEASURED_KINDS: how describe() writes it (the measuring side knows the objective)


@dataclass(frozen=True)
class Timing:
    fire_after: int = 3
    resolve_after: int = 2
    for_seconds: float = 0.0  # also required: the condition held this long before firing
    renotify: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class PollFacts:
    """What one poll tells the evaluator: the outcome plus the source's health after it."""

    poll_id: str
    at: datetime
    ok: bool
    skipped: bool = False
    metrics: Mapping[str, float] = field(default_factory=dict)
    payload: Any = None
    hash: str = ""
    # Whether the store found the content changed since its previous document (None: not known, the
    # rule's remembered hash decides). Knowing it, a stale-hash rule needs no remembered hash.
    changed: bool | None = None
    error_kind: str = ""
    consecutive_failures: int = 0
    circuit_state: str = "closed"
    # Where "no successful poll for a duration" counts from (``pollers.health.without_success_since``).
    last_success_at: datetime | None = None
    # MEASURED_KINDS: observations made by alerts.measured for this poll, by ``Condition.key``.
    measured: Mapping[str, Observation] = field(default_factory=dict)

    @classmethod
    def from_poll(cls, source: Any, outcome: Any) -> PollFacts:
        record = outcome.record
        return cls(
            poll_id=str(outcome.poll_id),
            at=outcome.started_at,
            ok=bool(outcome.ok) and record is not None,
            skipped=bool(outcome.skipped),
            metrics=dict(record.metrics) if record is not None else {},
            payload=outcome.payload,
            hash=record.hash if record is not None else "",
            changed=bool(record.changed) if record is not None else None,
            error_kind=outcome.error_kind or "",
            consecutive_failures=int(source.consecutive_failures or 0),
            circuit_state=str(source.circuit_state or ""),
            last_success_at=health.without_success_since(source),
        )


@dataclass(frozen=True)
class Observation:
    holds: bool | None
    value: dict[str, Any]  # JSON: what was seen, stored with events and shown to people


@dataclass(frozen=True)
class StateData:
    status: str = INACTIVE
    true_streak: int = 0
    false_streak: int = 0
    pending_since: datetime | None = None
    firing_since: datetime | None = None
    last_value: dict[str, Any] | None = None
    # STALE_HASH memory: the last hash seen and for how many successful polls since it changed.
    last_hash: str = ""
    hash_streak: int = 0
    notified: bool = False  # the current firing has been notified (so its resolution is too)
    last_notified_at: datetime | None = None


@dataclass(frozen=True)
class Step:
    state: StateData
    observation: Observation
    transition: str | None = None  # FIRED | RESOLVED
    notify: str | None = None  # FIRED | REMINDER | RESOLVED


def observe(condition: Condition, facts: PollFacts, state: StateData) -> tuple[Observation, StateData]:
    """Whether the condition holds for this poll; the state comes back with its memory updated."""
    kind = condition.kind
    if kind == METRIC:
        if not facts.ok:
            return Observation(None, {"metric": condition.subject, "poll": "failed"}), state
        value = facts.metrics.get(condition.subject)
        seen: dict[str, Any] = {
            "metric": condition.subject,
            "value": value,
            "operator": condition.operator,
            "threshold": condition.expected,
        }
        if value is None:
            return Observation(None, {**seen, "missing": True}), state
        return Observation(compare(value, condition.operator, condition.expected), seen), state
    if kind == FIELD:
        if not facts.ok or facts.payload is None:
            return Observation(None, {"path": condition.subject, "poll": "failed"}), state
        actual = resolve_path(facts.payload, condition.path)
        seen = {
            "path": condition.subject,
            "value": None if actual is MISSING else _shown(actual),
            "operator": condition.operator,
            "expected": condition.expected,
        }
        if actual is MISSING:
            seen["missing"] = True
        return Observation(compare(actual, condition.operator, condition.expected), seen), state
    if kind == POLL_FAILURES:
        failures = facts.consecutive_failures
        seen = {"consecutive_failures": failures, "threshold": condition.count, "error_kind": facts.error_kind}
        return Observation(failures >= condition.count, seen), state
    if kind == CIRCUIT_OPEN:
        return Observation(facts.circuit_state == "open", {"circuit_state": facts.circuit_state}), state
    if kind == STALE_HASH:
        if not facts.ok or not facts.hash:
            return Observation(None, {"poll": "failed"}), state
        unchanged = facts.hash == state.last_hash if facts.changed is None else not facts.changed
        streak = state.hash_streak + 1 if unchanged else 0
        state = replace(state, last_hash=facts.hash, hash_streak=streak)
        seen = {"unchanged_polls": streak, "threshold": condition.count, "hash": facts.hash}
        return Observation(streak >= condition.count, seen), state
    if kind == NO_SUCCESS:
        if facts.ok:
            return Observation(False, {"seconds_since_success": 0.0, "threshold_seconds": condition.seconds}), state
        if facts.last_success_at is None:
            return Observation(None, {"seconds_since_success": None}), state
        elapsed = max(0.0, (facts.at - facts.last_success_at).total_seconds())
        seen = {"seconds_since_success": round(elapsed, 3), "threshold_seconds": condition.seconds}
        return Observation(elapsed >= condition.seconds, seen), state
    if kind in MEASURED_KINDS:
        # Not measured for this poll (an anomaly rule already judged this hour): says nothing.
        return facts.measured.get(condition.key) or Observation(None, {"measured": False}), state
    raise ValueError(f"unknown condition kind {kind!r}")


def step(state: StateData, observation: Observation, timing: Timing, at: datetime, silenced: bool) -> Step:
    """The next state after one observation, the transition it makes, and what to notify."""
    transition: str | None = None
    holds = observation.holds
    if holds is True:
        state = replace(state, true_streak=state.true_streak + 1, false_streak=0, last_value=observation.value)
        if state.status == INACTIVE:
            state = replace(state, status=PENDING, pending_since=at)
        if state.status == PENDING and _ready_to_fire(state, timing, at):
            state = replace(state, status=FIRING, firing_since=at)
            transition = FIRED
    elif holds is False:
        if state.status == INACTIVE and state.true_streak == 0 and state.false_streak == 0:
            # Idle and staying idle (the common case, every poll of every quiet rule): only the value seen moves.
            return Step(state=replace(state, last_value=observation.value), observation=observation)
        # Only a firing state counts polls towards resolving; an idle state stays unchanged (no write).
        false_streak = state.false_streak + 1 if state.status == FIRING else 0
        state = replace(state, false_streak=false_streak, true_streak=0, last_value=observation.value)
        if state.status == PENDING:
            state = replace(state, status=INACTIVE, pending_since=None)
        elif state.status == FIRING and state.false_streak >= timing.resolve_after:
            state = replace(state, status=INACTIVE, pending_since=None, firing_since=None)
            transition = RESOLVED

    notify: str | None = None
    if transition == RESOLVED:
        if state.notified and not silenced:
            notify = RESOLVED
        state = replace(state, notified=False)
    elif state.status == FIRING and not silenced:
        due = state.last_notified_at is None or at - state.last_notified_at >= timing.renotify
        if due:
            # A firing first notified late (after a silence, or held back while flapping) is a "fired".
            notify = REMINDER if state.notified else FIRED
            state = replace(state, notified=True, last_notified_at=at)
    return Step(state=state, observation=observation, transition=transition, notify=notify)


def _ready_to_fire(state: StateData, timing: Timing, at: datetime) -> bool:
    if state.true_streak < timing.fire_after:
        return False
    if timing.for_seconds <= 0:
        return True
    return state.pending_since is not None and (at - state.pending_since).total_seconds() >= timing.for_seconds


def _shown(value: Any) -> Any:
    """The value as stored with states and events: a path at a whole object is summarized, not copied."""
    if isinstance(value, dict):
        return {"object_keys": len(value)}
    if isinstance(value, list):
        return {"list_length": len(value)}
    if isinstance(value, str) and len(value) > MAX_SHOWN_STRING:
        return value[:MAX_SHOWN_STRING] + "…"
    return value


def describe(condition: Condition) -> str:
    """The condition as a person writes it: ``cpu_load > 85``, ``status != "ok"``."""
    kind = condition.kind
    if kind == METRIC:
        return f"{condition.subject} {condition.operator} {_number(condition.expected)}"
    if kind == FIELD:
        return f"{condition.subject} {condition.operator} {literal_text(condition.expected)}"
    if kind == POLL_FAILURES:
        return f"{condition.count} consecutive failed polls"
    if kind == CIRCUIT_OPEN:
        return "circuit open"
    if kind == STALE_HASH:
        return f"payload unchanged for {condition.count} successful polls"
    if kind == NO_SUCCESS:
        return f"no successful poll for {_duration(condition.seconds)}"
    if kind in MEASURED_KINDS:
        return condition.summary or kind
    return kind


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _duration(seconds: float) -> str:
    whole = int(seconds)
    if whole % 3600 == 0 and whole >= 3600:
        return f"{whole // 3600}h"
    if whole % 60 == 0 and whole >= 60:
        return f"{whole // 60}m"
    return f"{whole}s"
