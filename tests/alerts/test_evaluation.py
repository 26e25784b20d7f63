"""Alerts evaluated from ``poll_completed`` with real Source rows and PollOutcome values."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.models import AlertEvent, AlertRule, RuleState
from pollers.models import Source
from tests.alerts.support import PollDriver, make_rule
from tests.factories import make_source

pytestmark = pytest.mark.django_db


def events(source: Source | None = None) -> list[tuple[str, str]]:
    qs = AlertEvent.objects.order_by("occurred_at", "pk")
    if source is not None:
        qs = qs.filter(source=source)
    return [(e.kind, e.rule_name) for e in qs]


def alert_state(source: Source) -> str:
    return Source.objects.get(pk=source.pk).alert_state


def status_payload(status: str = "ok", redis: bool = True, cpu: float = 40.0) -> dict[str, Any]:
    return {
        "status": status,
        "results": {"services": {"redis": redis, "database": True}, "stats": {"server": {"cpu_load": cpu}}},
    }


def test_it_fires_a_threshold_after_three_polls_and_resolves_after_two() -> None:
    source = make_source()
    make_rule(name="cpu high", kind="metric", metric="cpu_load", operator=">", threshold=85)
    polls = PollDriver(source)
    polls.ok(cpu_load=90)
    polls.ok(cpu_load=91)
    assert events() == []
    assert RuleState.objects.get().status == "pending"
    polls.ok(cpu_load=92)
    assert events() == [("fired", "cpu high")]
    fired = AlertEvent.objects.get()
    assert fired.value["value"] == 92
    assert fired.value["held_polls"] == 3
    assert fired.message == "cpu high: cpu_load > 85 on us-east (now 92)"
    assert alert_state(source) == "degraded"
    assert source.alert_state == "degraded"  # the poller's instance too, in case it saves it again

    polls.ok(cpu_load=50)
    assert events() == [("fired", "cpu high")]
    polls.ok(cpu_load=40)
    assert events() == [("fired", "cpu high"), ("resolved", "cpu high")]
    resolved = AlertEvent.objects.get(kind="resolved")
    assert resolved.fired_event_id == fired.pk
    assert resolved.value["cleared_polls"] == 2
    assert alert_state(source) == "ok"


def test_it_fires_only_after_the_sustained_duration() -> None:
    source = make_source()
    make_rule(
        name="slow", kind="metric", metric="wait_time", operator=">=", threshold=2000, fire_after=1, for_seconds=90
    )
    polls = PollDriver(source, interval=30)
    for _ in range(3):
        polls.ok(wait_time=2500)
    assert events() == []
    polls.ok(wait_time=2000)  # 90 s after the first poll that held
    assert events() == [("fired", "slow")]


def test_it_fires_after_a_custom_number_of_consecutive_polls() -> None:
    source = make_source()
    make_rule(name="busy", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=5)
    polls = PollDriver(source)
    for value in (90, 90, 90, 90, 10, 90, 90, 90, 90):
        polls.ok(cpu_load=value)
    assert events() == []
    polls.ok(cpu_load=90)
    assert events() == [("fired", "busy")]


def test_it_compares_payload_fields() -> None:
    source = make_source()
    make_rule(
        name="redis down", kind="field", path="results.services.redis", operator="==", value="false", fire_after=2
    )
    make_rule(
        name="not ok", kind="field", path="status", operator="!=", value='"ok"', fire_after=1, severity="critical"
    )
    polls = PollDriver(source)
    polls.ok(status_payload(redis=False))
    assert events() == []
    polls.ok(status_payload(status="error", redis=False))
    assert sorted(events()) == [("fired", "not ok"), ("fired", "redis down")]
    assert alert_state(source) == "critical"  # the worst firing severity wins
    redis_event = AlertEvent.objects.get(rule_name="redis down")
    assert redis_event.message == "redis down: results.services.redis == false on us-east (now false)"
    assert redis_event.value == {
        "path": "results.services.redis",
        "value": False,
        "operator": "==",
        "expected": False,
        "held_polls": 2,
        "holding_since": redis_event.value["holding_since"],
    }
    polls.ok(status_payload())
    polls.ok(status_payload())
    assert alert_state(source) == "ok"
    assert len(events()) == 4


def test_it_treats_a_vanished_field_as_unequal() -> None:
    source = make_source()
    make_rule(name="status", kind="field", path="status", operator="!=", value='"ok"', fire_after=1)
    PollDriver(source).ok({"results": {}})
    event = AlertEvent.objects.get()
    assert event.value["missing"] is True


def test_it_detects_a_frozen_upstream() -> None:
    source = make_source()
    make_rule(name="frozen", kind="stale_hash", count=3, fire_after=1, resolve_after=1)
    polls = PollDriver(source)
    same = status_payload()
    polls.ok(same)
    polls.ok(same)
    polls.fail()  # a failed poll does not count as unchanged
    polls.ok(same)
    assert events() == []
    polls.ok(same)
    assert events() == [("fired", "frozen")]
    assert AlertEvent.objects.get().value["unchanged_polls"] == 3
    polls.ok(status_payload(cpu=41))
    assert events() == [("fired", "frozen"), ("resolved", "frozen")]


def test_it_fires_when_no_poll_has_succeeded_for_a_while() -> None:
    source = make_source()
    make_rule(
        name="silent", kind="no_success", duration_seconds=120, fire_after=1, resolve_after=1, severity="critical"
    )
    polls = PollDriver(source, interval=60)
    polls.ok(status_payload())
    polls.fail()
    assert events() == []
    polls.fail()  # 120 s since the last success
    assert events() == [("fired", "silent")]
    assert AlertEvent.objects.get().value["seconds_since_success"] == 120.0
    assert alert_state(source) == "critical"
    polls.ok(status_payload())
    assert events() == [("fired", "silent"), ("resolved", "silent")]


def test_it_fires_on_consecutive_failures_and_an_open_circuit() -> None:
    source = make_source()
    make_rule(name="failing", kind="poll_failures", count=3, fire_after=1)
    make_rule(name="circuit", kind="circuit_open", fire_after=1, severity="critical")
    polls = PollDriver(source)
    polls.fail("http_503")
    polls.fail("http_503")
    assert events() == []
    polls.fail("http_503")
    assert events() == [("fired", "failing")]
    assert AlertEvent.objects.get().value == {
        "consecutive_failures": 3,
        "threshold": 3,
        "error_kind": "http_503",
        "held_polls": 1,
        "holding_since": AlertEvent.objects.get().value["holding_since"],
    }
    polls.fail("http_503", circuit="open")
    assert events()[-1] == ("fired", "circuit")
    polls.fail("circuit_open", circuit="open", skipped=True)
    assert len(events()) == 2  # the skipped poll changes nothing
    assert alert_state(source) == "critical"


def test_it_does_not_count_the_same_poll_twice() -> None:
    source = make_source()
    make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85)
    polls = PollDriver(source)
    first = polls.ok(cpu_load=90)
    polls.send(first)
    polls.send(first)
    assert RuleState.objects.get().true_streak == 1
    second = polls.ok(cpu_load=90)
    polls.send(first)  # older than the last applied poll: ignored
    polls.send(second)
    assert RuleState.objects.get().true_streak == 2
    assert events() == []


def test_it_applies_tag_and_all_rules_to_each_source_separately() -> None:
    prod = make_source("us-east", tags=["prod"])
    dev = make_source("eu-west", tags=["dev"])
    make_rule(
        name="prod cpu",
        scope="tag",
        tag="prod",
        kind="metric",
        metric="cpu_load",
        operator=">",
        threshold=85,
        fire_after=1,
    )
    make_rule(name="any cpu", kind="metric", metric="cpu_load", operator=">", threshold=95, fire_after=1)
    PollDriver(prod).ok(cpu_load=90)
    PollDriver(dev).ok(cpu_load=99)
    assert events(prod) == [("fired", "prod cpu")]
    assert events(dev) == [("fired", "any cpu")]


def test_it_writes_nothing_for_a_quiet_rule() -> None:
    source = make_source()
    make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85)
    polls = PollDriver(source)
    for _ in range(5):
        polls.ok(cpu_load=10)
    assert not RuleState.objects.exists()


def test_it_returns_the_source_to_ok_when_a_firing_rule_is_disabled_or_deleted(
    django_capture_on_commit_callbacks: Any,
) -> None:
    source = make_source()
    rule = make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1)
    PollDriver(source).ok(cpu_load=90)
    assert alert_state(source) == "degraded"
    with django_capture_on_commit_callbacks(execute=True):
        rule.enabled = False
        rule.save()
    assert alert_state(source) == "ok"
    assert not RuleState.objects.exists()

    rule2 = make_rule(
        name="cpu2", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1, severity="critical"
    )
    PollDriver(source, start=PollDriver(source).at.replace(year=2027)).ok(cpu_load=90)
    assert alert_state(source) == "critical"
    with django_capture_on_commit_callbacks(execute=True):
        AlertRule.objects.filter(pk=rule2.pk).delete()
    assert alert_state(source) == "ok"
    assert AlertEvent.objects.filter(rule_name="cpu2").get().rule_id is None  # history outlives its rule


def test_it_skips_evaluation_when_alerting_is_off(settings: Any) -> None:
    settings.ALERTS_ENABLED = False
    source = make_source()
    make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1)
    PollDriver(source).ok(cpu_load=90)
    assert events() == []


def firing_on(source: Source) -> list[str]:
    return sorted(RuleState.objects.firing().filter(source=source).values_list("rule__name", flat=True))


def test_it_resolves_a_tag_rule_for_a_source_whose_tags_no_longer_match(
    django_capture_on_commit_callbacks: Any,
) -> None:
    source = make_source(tags=["prod"])
    make_rule(name="prod cpu", scope="tag", tag="prod", kind="metric", metric="cpu_load", operator=">", threshold=85)
    make_rule(name="any cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, severity="critical")
    polls = PollDriver(source)
    for _ in range(3):
        polls.ok(cpu_load=90)
    assert firing_on(source) == ["any cpu", "prod cpu"]
    with django_capture_on_commit_callbacks(execute=True):
        source.name = "Renamed"
        source.save(update_fields=["name"])  # a save that cannot change what rules apply: nothing dropped
    assert firing_on(source) == ["any cpu", "prod cpu"]

    with django_capture_on_commit_callbacks(execute=True):
        source.tags = ["staging"]
        source.save()
    # The tag rule no longer watches the source: its firing state would never be evaluated again.
    assert firing_on(source) == ["any cpu"]
    assert alert_state(source) == "critical"
    polls.ok(cpu_load=50)
    polls.ok(cpu_load=50)
    assert firing_on(source) == []
    assert alert_state(source) == "ok"  # not held "degraded" by the tag rule's left-over state


def test_it_resolves_every_rule_of_the_old_team_when_a_source_moves_to_another_team(
    django_capture_on_commit_callbacks: Any,
) -> None:
    from tests.factories import make_team

    source = make_source()
    make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1)
    PollDriver(source).ok(cpu_load=90)
    assert alert_state(source) == "degraded"
    with django_capture_on_commit_callbacks(execute=True):
        source.team = make_team("red")
        source.save()
    assert not RuleState.objects.filter(source=source).exists()
    assert alert_state(source) == "ok"


def test_it_resolves_a_burn_rate_rule_for_a_source_its_objective_no_longer_covers(
    django_capture_on_commit_callbacks: Any,
) -> None:
    from tests.factories import make_objective

    east, west = make_source("us-east"), make_source("eu-west")
    objective = make_objective(sources=[east, west])
    rule = make_rule(name="burn", kind="burn_rate", objective=objective, severity="critical")
    for source in (east, west):  # as the engine leaves them once the budget burns (its own tests fire them)
        RuleState.objects.create(rule=rule, source=source, status="firing")
    with django_capture_on_commit_callbacks(execute=True):
        objective.sources.remove(west)
    assert firing_on(east) == ["burn"]
    assert firing_on(west) == []
    with django_capture_on_commit_callbacks(execute=True):
        east.objectives.clear()  # from the source's side of the relation
    assert firing_on(east) == []
