"""Alert evaluation per poll costs at most 3 queries however many rules; rules and silences come from a
per-process snapshot that a save, a delete or another process's generation bump replaces at once."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts import rule_cache
from alerts.models import AlertEvent, AlertRule, Silence
from devops_insights.shared_cache import shared_cache
from metrics.stores.base import RecordResult
from pollers.models import Source
from pollers.outcome import PollOutcome
from pollers.signals import poll_completed
from tests.alerts.support import make_rule
from tests.factories import make_source

pytestmark = pytest.mark.django_db

QUIET_RULES: list[dict[str, Any]] = [
    {"kind": "metric", "metric": "cpu_load", "operator": ">", "threshold": 85},
    {"kind": "metric", "metric": "wait_time", "operator": ">=", "threshold": 2000, "for_seconds": 60},
    {"kind": "field", "path": "results.services.redis", "operator": "==", "value": "false"},
    {"kind": "field", "path": "status", "operator": "!=", "value": '"ok"', "severity": "critical"},
    {"kind": "poll_failures", "count": 3, "fire_after": 1},
    {"kind": "circuit_open", "fire_after": 1},
    {"kind": "stale_hash", "count": 20, "fire_after": 1},
    {"kind": "no_success", "duration_seconds": 300, "fire_after": 1},
    {"kind": "metric", "metric": "error_rate", "operator": ">", "threshold": 5},
    {"kind": "metric", "metric": "online", "operator": "<", "threshold": 1, "severity": "critical"},
]


class Polls:
    """Polls of one source at the current time, each with new content (as the bench's quiet case)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.n = 0
        self.at = timezone.now()

    def send(self, cpu: float = 40.0) -> None:
        self.n += 1
        self.at += timedelta(seconds=30)
        metrics = {"cpu_load": cpu, "wait_time": 60.0, "error_rate": 0.5, "online": 50.0}
        outcome = PollOutcome(
            source=self.source.slug,
            poll_id=f"p{self.n}",
            started_at=self.at,
            ok=True,
            record=RecordResult(changed=True, hash=f"h{self.n}", metrics=metrics, sequence=self.n, diff=[]),
            payload={"status": "ok", "results": {"services": {"redis": True}}},
        )
        self.source.last_success_at = self.at
        poll_completed.send(sender=Source, source=self.source, outcome=outcome)


def quiet_under_a_rule_at_95() -> tuple[AlertRule, Polls]:
    """A source under a rule that fires above 95 at once, polled once at 90: the snapshot is loaded, nothing fired."""
    source = make_source()
    rule = make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=95, fire_after=1)
    polls = Polls(source)
    polls.send(cpu=90)
    return rule, polls


def test_it_evaluates_ten_quiet_rules_in_at_most_three_queries_per_poll() -> None:
    source = make_source()
    for i, fields in enumerate(QUIET_RULES):
        make_rule(name=f"rule {i}", **fields)
    polls = Polls(source)
    polls.send()  # the first poll loads the snapshot
    for _ in range(5):
        with CaptureQueriesContext(connection) as queries:
            polls.send()
        assert len(queries.captured_queries) <= 3, [q["sql"][:100] for q in queries.captured_queries]
    assert AlertEvent.objects.count() == 0


def test_it_costs_no_query_for_a_source_without_rules() -> None:
    make_rule(name="only prod", scope="tag", tag="prod", kind="metric", metric="cpu_load", operator=">", threshold=85)
    polls = Polls(make_source(tags=["dev"]))
    polls.send()
    with CaptureQueriesContext(connection) as queries:
        polls.send(cpu=99)
    # Not even the rules' generation (without Redis a row of the shared cache's table): it was read at the
    # first poll, less than ALERT_RULES_RECHECK_SECONDS ago.
    assert [q["sql"] for q in queries.captured_queries] == []


def test_it_reads_the_generation_on_every_poll_with_no_recheck_interval(settings: Any) -> None:
    settings.ALERT_RULES_RECHECK_SECONDS = 0
    polls = Polls(make_source(tags=["dev"]))
    polls.send()
    shared = settings.CACHES[settings.SHARED_CACHE_ALIAS]
    with CaptureQueriesContext(connection) as queries:
        polls.send()
    assert shared["BACKEND"].endswith("DatabaseCache")  # without REDIS_URL, as these tests run
    assert [q["sql"] for q in queries.captured_queries if shared["LOCATION"] in q["sql"]] != []


def test_it_fires_a_transition_exactly_once() -> None:
    source = make_source()
    make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1)
    polls = Polls(source)
    polls.send(cpu=99)
    polls.send(cpu=99)
    polls.send(cpu=99)
    assert list(AlertEvent.objects.values_list("kind", flat=True)) == ["fired"]


def test_it_sees_a_rule_saved_after_the_snapshot_was_loaded() -> None:
    source = make_source()
    polls = Polls(source)
    polls.send(cpu=99)  # snapshot loaded: no rules
    make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1)
    polls.send(cpu=99)
    assert list(AlertEvent.objects.values_list("kind", flat=True)) == ["fired"]


def test_it_sees_a_silence_saved_after_the_snapshot_was_loaded() -> None:
    source = make_source()
    make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=2)
    polls = Polls(source)
    polls.send(cpu=99)
    Silence.objects.create(
        source=source, reason="maintenance", starts_at=polls.at, ends_at=polls.at + timedelta(hours=1)
    )
    polls.send(cpu=99)
    assert AlertEvent.objects.get().silenced is True


def test_it_reloads_when_another_process_bumps_the_generation(settings: Any) -> None:
    settings.ALERT_RULES_RECHECK_SECONDS = 0  # this test's own bump below is read at the next poll
    rule, polls = quiet_under_a_rule_at_95()
    assert not AlertEvent.objects.exists()
    # Another process changes the rule (no signal here) and bumps the shared generation.
    AlertRule.objects.filter(pk=rule.pk).update(threshold=85)
    polls.send(cpu=90)
    assert not AlertEvent.objects.exists()  # same generation: this process still has the old threshold
    shared_cache().set(rule_cache.GENERATION_KEY, "bumped elsewhere", None)
    polls.send(cpu=90)
    assert list(AlertEvent.objects.values_list("kind", flat=True)) == ["fired"]


def test_it_reloads_within_the_recheck_interval_when_another_process_bumps_the_generation(settings: Any) -> None:
    settings.ALERT_RULES_RECHECK_SECONDS = 0.2
    rule, polls = quiet_under_a_rule_at_95()
    AlertRule.objects.filter(pk=rule.pk).update(threshold=85)  # another process's save: no signal here
    shared_cache().set(rule_cache.GENERATION_KEY, "bumped elsewhere", None)
    deadline = time.monotonic() + 10
    while not AlertEvent.objects.exists():
        assert time.monotonic() < deadline, "the other process's change never applied"
        polls.send(cpu=90)
    assert list(AlertEvent.objects.values_list("kind", flat=True)) == ["fired"]


def test_it_applies_a_change_saved_in_this_process_at_its_next_poll_whatever_the_interval(settings: Any) -> None:
    settings.ALERT_RULES_RECHECK_SECONDS = 3600
    rule, polls = quiet_under_a_rule_at_95()
    rule.threshold = 85
    rule.save()
    polls.send(cpu=90)
    assert list(AlertEvent.objects.values_list("kind", flat=True)) == ["fired"]


def test_it_reloads_at_the_next_poll_after_a_change_saved_in_this_process_while_it_loaded(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot loaded while this process saved a rule may predate the save: it is not trusted for the
    recheck interval, or the change would wait that long in the very process that made it."""
    settings.ALERT_RULES_RECHECK_SECONDS = 3600
    source = make_source()
    loaded = rule_cache._load

    def load_while_a_rule_is_saved(generation: str | None) -> rule_cache.Snapshot:
        snapshot = loaded(generation)
        monkeypatch.setattr(rule_cache, "_load", loaded)
        make_rule(name="cpu", kind="metric", metric="cpu_load", operator=">", threshold=85, fire_after=1)
        return snapshot

    monkeypatch.setattr(rule_cache, "_load", load_while_a_rule_is_saved)
    polls = Polls(source)
    polls.send(cpu=99)  # evaluated without the rule, loaded just before it was saved
    assert not AlertEvent.objects.exists()
    polls.send(cpu=99)
    assert list(AlertEvent.objects.values_list("kind", flat=True)) == ["fired"]
