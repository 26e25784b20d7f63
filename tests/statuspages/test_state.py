"""The state rule of statuspages/state.py as a table: source health and firing alerts in, states out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pollers.models import Source, SourceAlertLevel
from statuspages.state import INDICATOR, State, combine, component_state, overall_state, source_state

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
OK, MAINT, DEG, PART, MAJOR = (
    State.OPERATIONAL,
    State.MAINTENANCE,
    State.DEGRADED,
    State.PARTIAL_OUTAGE,
    State.MAJOR_OUTAGE,
)


def source(kind: str, alert: str = SourceAlertLevel.OK) -> Source:
    """An unsaved source whose poll health is ``kind`` (the words of pollers.health)."""
    fresh = NOW - timedelta(seconds=10)
    fields: dict[str, object] = {
        "interval_seconds": 30,
        "last_polled_at": fresh,
        "last_success_at": fresh,
        "alert_state": alert,
    }
    if kind == "paused":
        fields["enabled"] = False
    elif kind == "waiting":
        fields.update(last_polled_at=None, last_success_at=None)
    elif kind == "failing":
        fields.update(consecutive_failures=1, last_error_at=NOW)
    elif kind == "circuit_open":
        fields.update(circuit_state=Source.Circuit.OPEN)
    elif kind == "stale":
        fields.update(last_success_at=NOW - timedelta(minutes=10), last_polled_at=NOW - timedelta(minutes=10))
    # team_id given: the default looks the default team up in the database, which a table test needs not.
    return Source(slug=kind, name=kind, url="http://127.0.0.1:9/", team_id=1, **fields)


@pytest.mark.parametrize(
    ("kind", "alert", "expected"),
    [
        ("fresh", SourceAlertLevel.OK, OK),
        ("fresh", SourceAlertLevel.DEGRADED, DEG),
        ("fresh", SourceAlertLevel.CRITICAL, PART),
        ("failing", SourceAlertLevel.OK, MAJOR),
        ("circuit_open", SourceAlertLevel.OK, MAJOR),
        ("stale", SourceAlertLevel.OK, MAJOR),
        ("failing", SourceAlertLevel.DEGRADED, MAJOR),  # down outranks any alert
        ("paused", SourceAlertLevel.CRITICAL, None),  # no signal: the team paused it
        ("waiting", SourceAlertLevel.OK, None),
    ],
)
def test_it_reads_one_source_from_its_poll_health_and_firing_alerts(kind: str, alert: str, expected: State) -> None:
    assert source_state(source(kind, alert), NOW) == expected


@pytest.mark.parametrize(
    ("states", "in_maintenance", "expected"),
    [
        ([], False, OK),
        ([None, None], False, OK),
        ([OK, OK], False, OK),
        ([OK, DEG], False, DEG),
        ([DEG, PART], False, PART),
        ([MAJOR], False, MAJOR),
        ([MAJOR, None], False, MAJOR),  # every source with a signal is down
        ([MAJOR, OK], False, PART),
        ([MAJOR, DEG, OK], False, PART),
        ([MAJOR, MAJOR], True, MAINT),  # maintenance overrides
        ([OK], True, MAINT),
    ],
)
def test_it_combines_a_components_sources(states: list[State | None], in_maintenance: bool, expected: State) -> None:
    assert combine(states, in_maintenance=in_maintenance) == expected


def test_it_states_a_component_from_its_saved_sources_health() -> None:
    assert component_state([source("fresh"), source("failing")], now=NOW) == PART
    assert component_state([source("failing")], in_maintenance=True, now=NOW) == MAINT


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([], OK),
        ([OK, OK], OK),
        ([OK, MAINT], MAINT),
        ([MAINT, DEG], DEG),  # a maintenance never hides a real problem elsewhere
        ([DEG, MAJOR, PART], MAJOR),
    ],
)
def test_it_takes_the_worst_component_for_the_page(states: list[State], expected: State) -> None:
    assert overall_state(states) == expected


def test_it_maps_every_state_to_a_statuspage_v2_indicator() -> None:
    assert {INDICATOR[s] for s in State} == {"none", "maintenance", "minor", "major", "critical"}
