"""Apply one poll to the alert rules of its source: states, events, deliveries, ``Source.alert_state``.

Called from the ``poll_completed`` receiver in whichever poller did the poll. Several pollers
may evaluate the same source, and in a test even the same poll: every state write is a
compare-and-set on ``RuleState.version`` inside a transaction that also creates the event and
its deliveries, so a transition is recorded by exactly one process; the others see the
version moved, reload, find the poll already applied and stop.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields, replace
from typing import Any

from django.db import IntegrityError, models, transaction

from alerts import evaluate, measured, recent_polls, rule_cache
from alerts.evaluate import FIRED, INACTIVE, REMINDER, RESOLVED, PollFacts, StateData, Step
from alerts.models import AlertEvent, AlertRule, Delivery, NotificationChannel, RuleState, Severity, Silence
from alerts.rule_cache import CachedRule
from alerts.signals import alert_event_recorded
from pollers.models import Source, SourceAlertLevel

log = logging.getLogger("alerts")

# Compare-and-set retries: each retry means another process applied a poll meanwhile.
MAX_ATTEMPTS = 8


class _Conflict(Exception):
    """The state's version moved under us: reload and try again."""


class _Moved(Exception):
    """The source is no longer of the rule's team: nothing of this rule is written for it."""


@dataclass
class PollResult:
    events: list[AlertEvent] = field(default_factory=list)
    deliveries: int = 0


def evaluate_poll(source: Source, outcome: Any) -> PollResult:
    """Evaluate every enabled rule that applies to ``source`` against one poll outcome."""
    recent_polls.count(outcome)  # every poll of this process, ruled or not: burn-rate windows take theirs from it
    snapshot = rule_cache.current()  # no read while nothing changed: the generation at most once a recheck interval
    cached = snapshot.rules_for(source)
    result = PollResult()
    if not cached:
        return result
    facts = PollFacts.from_poll(source, outcome)
    silenced = snapshot.silenced(source, facts.at)
    if silenced is None:  # a poll older than the snapshot's silences (a late one, or a replay)
        silenced = Silence.objects.covering(source, facts.at)
    rules = [c.rule for c in cached]
    states = {s.rule_id: s for s in RuleState.objects.filter(source=source, rule__in=[r.pk for r in rules])}
    facts = _with_measured(facts, source, rules, states)
    for entry in cached:
        rule = entry.rule
        try:
            events, deliveries = _evaluate_rule(entry, source, facts, states.get(rule.pk), silenced)
        except Exception:
            # One broken rule must not stop the others (nor the poller).
            log.exception("alert rule %s failed on source %s poll %s", rule.pk, source.slug, facts.poll_id)
            continue
        result.events.extend(events)
        result.deliveries += deliveries
    if result.events:
        refresh_alert_state(source)
    if result.events or result.deliveries:
        _after_commit(source, result)
    return result


def _with_measured(facts: PollFacts, source: Source, rules: list[AlertRule], states: dict[int, RuleState]) -> PollFacts:
    """Burn-rate and anomaly rules need store reads (alerts.measured); other kinds need nothing more."""
    wanted = [rule for rule in rules if rule.kind in evaluate.MEASURED_KINDS]
    if not wanted:
        return facts
    try:
        return replace(facts, measured=measured.observe_all(wanted, source, facts.at, states))
    except Exception:
        # A store outage: those rules say nothing this poll (None), the others evaluate as usual.
        log.exception("measuring burn-rate/anomaly rules failed on source %s poll %s", source.slug, facts.poll_id)
        return facts


def _evaluate_rule(
    cached: CachedRule, source: Source, facts: PollFacts, row: RuleState | None, silenced: bool
) -> tuple[list[AlertEvent], int]:
    rule, condition, timing = cached.rule, cached.condition, cached.timing
    for _ in range(MAX_ATTEMPTS):
        if row is not None and row.has_seen(facts.poll_id, facts.at):
            return [], 0
        before = row.data() if row is not None else StateData()
        observation, remembered = evaluate.observe(condition, facts, before)
        outcome = evaluate.step(remembered, observation, timing, facts.at, silenced)
        if _nothing_to_write(before, outcome, forget_hash=facts.changed is not None):
            return [], 0
        try:
            with transaction.atomic():
                return _apply(rule, source, facts, row, outcome, silenced)
        except _Moved:
            log.info("alert rule %s not applied on source %s: the source moved to another team", rule.pk, source.slug)
            return [], 0
        except (_Conflict, IntegrityError):
            row = RuleState.objects.filter(rule=rule, source=source).first()
    log.warning("alert rule %s on source %s: gave up after %s conflicting writers", rule.pk, source.slug, MAX_ATTEMPTS)
    return [], 0


def _nothing_to_write(before: StateData, outcome: Step, *, forget_hash: bool = False) -> bool:
    # An idle rule whose condition stays false changes nothing but its last value: skip the write,
    # so a fleet of quiet rules costs one read per poll, not one write per rule. When the poll says
    # whether the content changed, the remembered hash is not needed either (only the streak is).
    after = outcome.state
    compared = _COMPARED_WITHOUT_HASH if forget_hash else _COMPARED
    return (
        outcome.transition is None
        and outcome.notify is None
        and before.status == INACTIVE
        and after.status == INACTIVE
        and all(getattr(after, name) == getattr(before, name) for name in compared)
    )


# The remembered fields that make a state worth writing (field by field: ``replace`` costs more per poll).
_COMPARED = tuple(f.name for f in fields(StateData) if f.name != "last_value")
_COMPARED_WITHOUT_HASH = tuple(name for name in _COMPARED if name != "last_hash")


def _apply(
    rule: AlertRule, source: Source, facts: PollFacts, row: RuleState | None, outcome: Step, silenced: bool
) -> tuple[list[AlertEvent], int]:
    """Inside a transaction: create the transition's event, then claim the state by compare-and-set."""
    # The poller polls from the source it loaded until its next reload: a poll just after a move would
    # evaluate the old team's rules, and their states, written after the move dropped them
    # (receivers.drop_stale_states), would never be evaluated again. So the source's current team decides, at
    # write time, under the source's row lock: a move committing meanwhile waits for this write (and then
    # drops it) or this write waits for the move (and then finds the source moved).
    if not Source.objects.select_for_update().filter(pk=source.pk, team_id=rule.team_id).values_list("pk"):
        raise _Moved
    state = outcome.state
    fired_event_id = row.fired_event_id if row is not None else None
    event: AlertEvent | None = None
    if outcome.transition == FIRED:
        event = _event(rule, source, facts, outcome, silenced, fired_event_id=None)
        fired_event_id = event.pk
    elif outcome.transition == RESOLVED:
        event = _event(rule, source, facts, outcome, silenced, fired_event_id=fired_event_id)
        fired_event_id = None

    fields: dict[str, Any] = {
        "status": state.status,
        "true_streak": state.true_streak,
        "false_streak": state.false_streak,
        "pending_since": state.pending_since,
        "firing_since": state.firing_since,
        "last_value": state.last_value,
        "last_hash": state.last_hash,
        "hash_streak": state.hash_streak,
        "notified": state.notified,
        "last_notified_at": state.last_notified_at,
        "fired_event_id": fired_event_id,
        "last_poll_id": facts.poll_id[:64],
        "last_poll_at": facts.at,
    }
    if row is None:
        # A concurrent creator makes this raise IntegrityError: the caller reloads and retries.
        RuleState.objects.create(rule=rule, source=source, version=1, **fields)
    else:
        claimed = RuleState.objects.filter(pk=row.pk, version=row.version).update(
            version=models.F("version") + 1, **fields
        )
        if claimed != 1:
            raise _Conflict

    deliveries = 0
    if outcome.notify is not None:
        target = event if outcome.notify == RESOLVED else _firing_event(event, fired_event_id)
        if target is not None:
            deliveries = _queue_deliveries(rule, target, outcome.notify)
    return ([event] if event is not None else []), deliveries


def _firing_event(event: AlertEvent | None, fired_event_id: int | None) -> AlertEvent | None:
    if event is not None and event.kind == FIRED:
        return event
    if fired_event_id is None:
        return None
    return AlertEvent.objects.filter(pk=fired_event_id).select_related("source").first()


def _event(
    rule: AlertRule,
    source: Source,
    facts: PollFacts,
    outcome: Step,
    silenced: bool,
    fired_event_id: int | None,
) -> AlertEvent:
    condition = rule.summary()
    value = dict(outcome.observation.value)
    if outcome.transition == FIRED:
        value["held_polls"] = outcome.state.true_streak
        if outcome.state.pending_since is not None:
            value["holding_since"] = outcome.state.pending_since.isoformat()
        message = f"{rule.name}: {condition} on {source.slug}{_seen(value)}"
    else:
        value["cleared_polls"] = outcome.state.false_streak
        message = f"Resolved: {rule.name}: {condition} on {source.slug}{_seen(value)}"
    return AlertEvent.objects.create(
        rule=rule,
        rule_name=rule.name[:120],
        source=source,
        kind=str(outcome.transition),
        severity=rule.severity,
        condition=condition[:600],
        value=value,
        message=message[:1000],
        poll_id=facts.poll_id[:64],
        occurred_at=facts.at,
        silenced=silenced,
        fired_event_id=fired_event_id,
    )


def _seen(value: dict[str, Any]) -> str:
    for key in ("value", "consecutive_failures", "unchanged_polls", "seconds_since_success", "circuit_state"):
        if key in value and value[key] is not None:
            shown = value[key]
            return f" (now {shown:g})" if isinstance(shown, float) else f" (now {json.dumps(shown, default=str)})"
    if value.get("missing"):
        return " (now missing)"
    return ""


def _queue_deliveries(rule: AlertRule, event: AlertEvent, reason: str) -> int:
    channels = list(rule.channels.filter(enabled=True))
    if not channels:
        channels = list(NotificationChannel.objects.enabled().filter(is_default=True, team_id=rule.team_id))
    Delivery.objects.bulk_create([Delivery(event=event, channel=channel, reason=reason) for channel in channels])
    if reason == REMINDER:
        log.info("alert %s still firing on %s: reminder queued", rule.pk, event.source_id)
    return len(channels)


def refresh_alert_state(source: Source) -> str:
    """Set ``Source.alert_state`` to the worst severity firing for it, in one statement.

    The value is computed in the database from committed states, so concurrent evaluators
    converge on the truth instead of racing each other's read-modify-write.
    """
    firing = RuleState.objects.firing().filter(source=models.OuterRef("pk"))
    Source.objects.filter(pk=source.pk).update(
        alert_state=models.Case(
            models.When(
                models.Exists(firing.filter(rule__severity=Severity.CRITICAL)),
                then=models.Value(SourceAlertLevel.CRITICAL),
            ),
            models.When(models.Exists(firing), then=models.Value(SourceAlertLevel.DEGRADED)),
            default=models.Value(SourceAlertLevel.OK),
        )
    )
    current = Source.objects.filter(pk=source.pk).values_list("alert_state", flat=True).first()
    if current is not None:
        # The poller may save this instance after the signal: keep its copy of the field true.
        source.alert_state = current
    return source.alert_state


def refresh_alert_states(source_ids: set[int]) -> None:
    for source in Source.objects.filter(pk__in=source_ids):
        refresh_alert_state(source)


def _after_commit(source: Source, result: PollResult) -> None:
    events = [event.as_dict() | {"source_alert_state": source.alert_state} for event in result.events]
    slug = source.slug
    wake = result.deliveries > 0

    def announce_and_wake() -> None:
        for event in events:
            announce_event(slug, event)
        if wake:
            from alerts.dispatcher import wake_dispatcher

            wake_dispatcher()

    transaction.on_commit(announce_and_wake)


def announce_event(slug: str, event: dict[str, Any]) -> None:
    """Announce a fired/resolved event (``alerts.signals.alert_event_recorded``; realtime pushes it to browsers).

    A receiver's exception is logged, never raised: the evaluation is already committed.
    """
    for receiver, response in alert_event_recorded.send_robust(sender=AlertEvent, slug=slug, event=event):
        if isinstance(response, Exception):
            log.warning(
                "alert event %s for %s: receiver %s raised %s: %s",
                event.get("id"),
                slug,
                getattr(receiver, "__qualname__", receiver),
                type(response).__name__,
                response,
            )
