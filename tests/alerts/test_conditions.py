"""The condition language and the pure evaluator (alerts.conditions, alerts.evaluate): no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts import evaluate
from alerts.conditions import MISSING, ConditionError, compare, parse_literal, parse_path, resolve_path
from alerts.evaluate import Condition, Observation, PollFacts, StateData, Timing

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_it_parses_dotted_paths_and_explains_bad_ones() -> None:
    assert parse_path("results.services.redis") == ("results", "services", "redis")
    assert parse_path(" results.workers.0.1 ") == ("results", "workers", "0", "1")
    with pytest.raises(ConditionError, match="empty segment"):
        parse_path("results..redis")
    with pytest.raises(ConditionError, match="empty"):
        parse_path("  ")
    with pytest.raises(ConditionError, match="not a key"):
        parse_path("results.services[0]")


def test_it_parses_json_literals_and_hints_at_missing_quotes() -> None:
    assert parse_literal("false") is False
    assert parse_literal('"ok"') == "ok"
    assert parse_literal("85.5") == 85.5
    assert parse_literal("null") is None
    with pytest.raises(ConditionError, match='double quotes: "ok"'):
        parse_literal("ok")
    with pytest.raises(ConditionError, match="single JSON literal"):
        parse_literal("[1, 2]")
    with pytest.raises(ConditionError, match="not a JSON literal"):
        parse_literal("NaN")
    with pytest.raises(ConditionError, match="empty"):
        parse_literal("")


def test_it_resolves_paths_through_objects_and_lists() -> None:
    payload = {"results": {"services": {"redis": False}, "workers": [["api-1", {"idle": 2}]]}}
    assert resolve_path(payload, ("results", "services", "redis")) is False
    assert resolve_path(payload, ("results", "workers", "0", "1", "idle")) == 2
    assert resolve_path(payload, ("results", "workers", "-1", "0")) == "api-1"
    assert resolve_path(payload, ("results", "workers", "5")) is MISSING
    assert resolve_path(payload, ("results", "workers", "-2")) is MISSING
    assert resolve_path(payload, ("results", "services", "redis", "deeper")) is MISSING


def test_it_compares_like_json_not_like_python() -> None:
    assert compare(False, "==", False) is True
    assert compare(0, "==", False) is False  # Python says 0 == False; JSON does not
    assert compare(1, "==", 1.0) is True
    assert compare("ok", "!=", "ok") is False
    assert compare(MISSING, "!=", "ok") is True  # a vanished status is not "ok"
    assert compare(MISSING, "==", None) is False
    assert compare(90.0, ">", 85) is True
    assert compare(85.0, ">", 85) is False
    assert compare(85.0, ">=", 85) is True
    assert compare("90", ">", 85) is None  # undecided, never silently false
    assert compare(True, ">", 0) is None


def facts(**overrides: object) -> PollFacts:
    base: dict[str, object] = {"poll_id": "p", "at": T0, "ok": True, "metrics": {"cpu_load": 50.0}}
    base.update(overrides)
    return PollFacts(**base)  # type: ignore[arg-type]


def run(condition: Condition, timing: Timing, polls: list[PollFacts], silenced: bool = False) -> list[evaluate.Step]:
    state = StateData()
    steps = []
    for poll in polls:
        observation, state = evaluate.observe(condition, poll, state)
        result = evaluate.step(state, observation, timing, poll.at, silenced)
        state = result.state
        steps.append(result)
    return steps


CPU_OVER_85 = Condition(kind=evaluate.METRIC, subject="cpu_load", operator=">", expected=85.0)


def cpu_polls(*values: float | None, every: int = 30) -> list[PollFacts]:
    polls = []
    for i, value in enumerate(values):
        at = T0 + timedelta(seconds=every * i)
        if value is None:
            polls.append(facts(poll_id=f"p{i}", at=at, ok=False, metrics={}))
        else:
            polls.append(facts(poll_id=f"p{i}", at=at, metrics={"cpu_load": value}))
    return polls


def transitions(steps: list[evaluate.Step]) -> list[tuple[int, str]]:
    return [(i, s.transition) for i, s in enumerate(steps) if s.transition]


def test_it_fires_after_the_threshold_and_resolves_after_the_clear_count() -> None:
    steps = run(CPU_OVER_85, Timing(fire_after=3, resolve_after=2), cpu_polls(90, 91, 92, 93, 50, 95, 50, 50, 50))
    assert transitions(steps) == [(2, "fired"), (7, "resolved")]
    assert [s.state.status for s in steps[:3]] == ["pending", "pending", "firing"]
    assert steps[2].observation.value == {"metric": "cpu_load", "value": 92, "operator": ">", "threshold": 85.0}


def test_it_needs_consecutive_polls_to_fire() -> None:
    steps = run(CPU_OVER_85, Timing(fire_after=3), cpu_polls(90, 91, 50, 90, 91, 50, 90, 91))
    assert transitions(steps) == []
    assert steps[-1].state.status == "pending"


def test_it_waits_for_the_sustained_duration_as_well_as_the_poll_count() -> None:
    timing = Timing(fire_after=1, for_seconds=120)
    steps = run(CPU_OVER_85, timing, cpu_polls(90, 90, 90, 90, 90, 90))  # 30 s apart
    assert transitions(steps) == [(4, "fired")]  # 120 s after the first poll that held


def test_it_lets_failed_polls_neither_fire_nor_resolve_a_metric_rule() -> None:
    steps = run(CPU_OVER_85, Timing(fire_after=2, resolve_after=2), cpu_polls(90, None, 90, None, 50, None, 50))
    assert transitions(steps) == [(2, "fired"), (6, "resolved")]
    assert steps[1].observation.holds is None


def test_it_notifies_a_flapping_condition_once_per_interval() -> None:
    timing = Timing(fire_after=1, resolve_after=1, renotify=timedelta(minutes=30))
    values = [90, 50] * 20  # flaps every poll for 20 minutes
    steps = run(CPU_OVER_85, timing, cpu_polls(*values))
    assert len([s for s in steps if s.transition == "fired"]) == 20  # every firing is recorded
    assert [(i, s.notify) for i, s in enumerate(steps) if s.notify] == [(0, "fired"), (1, "resolved")]


def test_it_reminds_while_firing_and_catches_up_after_a_flap() -> None:
    timing = Timing(fire_after=1, resolve_after=1, renotify=timedelta(minutes=5))
    # fires, resolves, fires again within the interval (held back), keeps firing past the interval
    steps = run(CPU_OVER_85, timing, cpu_polls(90, 50, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90))
    notes = [(i, s.notify) for i, s in enumerate(steps) if s.notify]
    # the re-firing at poll 2 is held back; it is notified (as "fired") once the interval has passed
    assert notes == [(0, "fired"), (1, "resolved"), (10, "fired")]
    steps = run(CPU_OVER_85, timing, cpu_polls(*([90] * 22)))
    assert [(i, s.notify) for i, s in enumerate(steps) if s.notify] == [
        (0, "fired"),
        (10, "reminder"),
        (20, "reminder"),
    ]


def test_it_records_but_does_not_notify_while_silenced() -> None:
    steps = run(CPU_OVER_85, Timing(fire_after=1, resolve_after=1), cpu_polls(90, 90, 50), silenced=True)
    assert transitions(steps) == [(0, "fired"), (2, "resolved")]
    assert [s.notify for s in steps] == [None, None, None]


def test_it_detects_a_frozen_payload_only_on_successful_polls() -> None:
    condition = Condition(kind=evaluate.STALE_HASH, count=3)
    hashes = ["a", "b", "b", "b", None, "b", "b", "c"]
    polls = [
        facts(poll_id=f"p{i}", at=T0 + timedelta(seconds=30 * i), ok=h is not None, hash=h or "")
        for i, h in enumerate(hashes)
    ]
    steps = run(condition, Timing(fire_after=1, resolve_after=1), polls)
    assert [s.observation.value.get("unchanged_polls") for s in steps] == [0, 0, 1, 2, None, 3, 4, 0]
    assert transitions(steps) == [(5, "fired"), (7, "resolved")]


def test_it_measures_time_without_success_from_the_last_success() -> None:
    condition = Condition(kind=evaluate.NO_SUCCESS, seconds=90)
    last_ok = T0
    polls = [facts(poll_id="ok", at=T0)] + [
        facts(poll_id=f"f{i}", at=T0 + timedelta(seconds=30 * i), ok=False, last_success_at=last_ok)
        for i in range(1, 5)
    ]
    steps = run(condition, Timing(fire_after=1), polls)
    assert [s.observation.holds for s in steps] == [False, False, False, True, True]
    assert steps[3].observation.value["seconds_since_success"] == 90.0
    assert transitions(steps) == [(3, "fired")]


def test_it_watches_consecutive_failures_and_the_circuit() -> None:
    failures = Condition(kind=evaluate.POLL_FAILURES, count=3)
    polls = [facts(poll_id=f"p{n}", ok=False, consecutive_failures=n, error_kind="timeout") for n in range(1, 5)]
    assert [s.observation.holds for s in run(failures, Timing(fire_after=1), polls)] == [False, False, True, True]
    circuit = Condition(kind=evaluate.CIRCUIT_OPEN)
    observation, _ = evaluate.observe(circuit, facts(ok=False, skipped=True, circuit_state="open"), StateData())
    assert observation == Observation(True, {"circuit_state": "open"})


def test_it_describes_conditions_as_people_write_them() -> None:
    assert evaluate.describe(CPU_OVER_85) == "cpu_load > 85"
    field = Condition(kind=evaluate.FIELD, subject="status", path=("status",), operator="!=", expected="ok")
    assert evaluate.describe(field) == 'status != "ok"'
    assert evaluate.describe(Condition(kind=evaluate.NO_SUCCESS, seconds=600)) == "no successful poll for 10m"


def test_it_summarizes_an_object_instead_of_storing_it() -> None:
    condition = Condition(kind=evaluate.FIELD, subject="results", path=("results",), operator="==", expected=None)
    big = {"results": {f"k{i}": i for i in range(500)}}
    observation, _ = evaluate.observe(condition, facts(payload=big), StateData())
    assert observation == Observation(
        False, {"path": "results", "value": {"object_keys": 500}, "operator": "==", "expected": None}
    )
