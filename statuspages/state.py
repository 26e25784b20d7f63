"""The one rule for what a status page says: each component's state and the page's overall state.

Inputs, each decided elsewhere and only read here:

- a source's poll health: ``pollers.health.assess`` (down = failing, circuit open or stale);
- a source's firing alerts: ``Source.alert_state``, the worst severity among the alert rules firing for
  it (kept by ``alerts.engine.refresh_alert_state`` from ``alerts.RuleState``): warning -> ``degraded``,
  critical -> ``critical``;
- whether a maintenance window of the page covers the component now (``MaintenanceWindow.active``).

Per source (``source_state``):

==========================================  ===================
the source is                                its state
==========================================  ===================
paused or waiting for its first poll         no signal (None)
down (failing, circuit open, stale)          major outage
up, a critical alert firing                  partial outage
up, a warning alert firing                   degraded
up, nothing firing                           operational
==========================================  ===================

Per component (``component_state``), over the states of its sources:

1. a maintenance window covering it now -> **maintenance**, whatever else holds (the work explains it);
2. every source with a signal is down (at least one) -> **major outage**;
3. some but not all are down -> **partial outage**;
4. else the worst of its sources (partial outage > degraded > operational);
5. no source with a signal (none, all paused, all waiting) -> **operational**: a page says nothing it
   does not know, and a paused check is the team's choice, not an outage.

Overall (``overall_state``): the worst component state, maintenance ranking just above operational, so a
real outage elsewhere is never hidden by a maintenance, and a page whose only news is maintenance says so.

The values are the Statuspage v2 component statuses, so the summary endpoint passes them through;
``INDICATOR`` maps the overall state to its v2 ``status.indicator``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from pollers import health
from pollers.models import Source, SourceAlertLevel


class State(StrEnum):
    OPERATIONAL = "operational"
    MAINTENANCE = "under_maintenance"
    DEGRADED = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"

    @property
    def label(self) -> str:
        return LABELS[self]

    @property
    def rank(self) -> int:
        return RANK[self]


LABELS: dict[State, str] = {
    State.OPERATIONAL: "Operational",
    State.MAINTENANCE: "Under maintenance",
    State.DEGRADED: "Degraded performance",
    State.PARTIAL_OUTAGE: "Partial outage",
    State.MAJOR_OUTAGE: "Major outage",
}
# Worse is higher; the overall state is the highest of its components.
RANK: dict[State, int] = {state: index for index, state in enumerate(State)}
# What the whole page says in one sentence.
OVERALL_LABELS: dict[State, str] = {
    State.OPERATIONAL: "All systems operational",
    State.MAINTENANCE: "Maintenance in progress",
    State.DEGRADED: "Degraded performance",
    State.PARTIAL_OUTAGE: "Partial outage",
    State.MAJOR_OUTAGE: "Major outage",
}
# Statuspage v2 ``status.indicator`` for an overall state.
INDICATOR: dict[State, str] = {
    State.OPERATIONAL: "none",
    State.MAINTENANCE: "maintenance",
    State.DEGRADED: "minor",
    State.PARTIAL_OUTAGE: "major",
    State.MAJOR_OUTAGE: "critical",
}


def source_state(source: Source, now: datetime | None = None) -> State | None:
    """One source's state by the table above; None when it gives no signal (paused, waiting)."""
    verdict = health.assess(source, now)
    if verdict.paused or verdict.waiting:
        return None
    if verdict.down:
        return State.MAJOR_OUTAGE
    if source.alert_state == SourceAlertLevel.CRITICAL:
        return State.PARTIAL_OUTAGE
    if source.alert_state == SourceAlertLevel.DEGRADED:
        return State.DEGRADED
    return State.OPERATIONAL


def combine(source_states: Iterable[State | None], *, in_maintenance: bool = False) -> State:
    """A component's state from its sources' states (rules 1-5 of the module docstring)."""
    if in_maintenance:
        return State.MAINTENANCE
    known = [state for state in source_states if state is not None]
    if not known:
        return State.OPERATIONAL
    down = sum(1 for state in known if state == State.MAJOR_OUTAGE)
    if down == len(known):
        return State.MAJOR_OUTAGE
    if down:
        return State.PARTIAL_OUTAGE
    return max(known, key=lambda state: state.rank)


def component_state(sources: Iterable[Source], *, in_maintenance: bool = False, now: datetime | None = None) -> State:
    return combine((source_state(source, now) for source in sources), in_maintenance=in_maintenance)


def overall_state(component_states: Iterable[State]) -> State:
    """The worst component state (maintenance just above operational); operational for no components."""
    return max(component_states, key=lambda state: state.rank, default=State.OPERATIONAL)
