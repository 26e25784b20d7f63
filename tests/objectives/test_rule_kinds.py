"""The burn_rate and anomaly rule kinds: validation, and evaluation through the alert engine with the
hysteresis and silences of every rule (store reads are real; polls are driven as the poller sends them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts import measured
from alerts.anomaly_spread import spread_minutes
from alerts.forms import AlertRuleForm
from alerts.models import AlertEvent, AlertRule, Silence
from metrics.lifecycle import maintenance
from metrics.lifecycle.retention import roll_up_all
from metrics.models import MetricRollup
from metrics.rollups import RollupBucket
from metrics.stores import get_store
from objectives.attainment import rollup_reader
from tests.alerts.support import make_rule
from tests.factories import make_objective, make_source, make_team, payload, record_history, record_outcomes
from tests.objectives.support import HOUR, poll, seasonal_history

pytestmark = pytest.mark.django_db
MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([["1h", "2h", 14.4]], "unknown window"),
        ([["5m", "1h", 14.4]], "shorter"),
        ([["1h", "5m", 0]], "above 0"),
        ([["1h", "5m", 2, "sms"]], "page or ticket"),
        (["1h"], "each pair"),
    ],
)
def test_it_refuses_burn_rate_pairs_it_cannot_evaluate(pairs: list[Any], message: str) -> None:
    objective = make_objective(tag="prod")
    rule = AlertRule(name="burn", kind="burn_rate", objective=objective, burn_conditions=pairs)
    with pytest.raises(ValidationError) as caught:
        rule.full_clean()
    assert message in caught.value.message_dict["burn_conditions"][0].lower()


def test_it_refuses_an_objective_of_another_team_and_an_anomaly_rule_without_a_mode() -> None:
    objective = make_objective(tag="prod", team=make_team("red"))
    with pytest.raises(ValidationError) as caught:
        AlertRule(name="burn", kind="burn_rate", objective=objective).full_clean()
    assert "objective" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        AlertRule(name="odd", kind="anomaly", metric="wait_time", sensitivity=-1).full_clean()
    assert {"anomaly_mode", "sensitivity"} <= set(caught.value.message_dict)


def test_it_saves_a_burn_rate_rule_from_the_form_with_the_standard_pairs() -> None:
    make_source("us-east", tags=["prod"])
    objective = make_objective(tag="prod")
    form = AlertRuleForm(
        {
            "name": "burn",
            "enabled": "on",
            "severity": "critical",
            "scope": "all",
            "kind": "burn_rate",
            "objective": objective.pk,
            "burn_conditions": "",
            "metric": "stale",
            "fire_after": 1,
            "for_seconds": 0,
            "resolve_after": 1,
            "renotify_interval_seconds": 3600,
        }
    )
    assert form.is_valid(), form.errors
    rule = form.save()
    assert (rule.burn_conditions, rule.metric) == ([], "")
    assert "14.4x over 1h and 5m or 6x over 6h and 30m or 1x over 3d and 6h" in rule.summary()


def test_it_watches_only_the_objectives_sources_and_honours_silences() -> None:
    east, west = make_source("us-east"), make_source("eu-west")
    objective = make_objective(sources=[east])
    make_rule(name="burn", kind="burn_rate", objective=objective, fire_after=2, resolve_after=1)
    at = datetime.now(UTC)
    Silence.objects.create(source=east, starts_at=at - HOUR, ends_at=at + HOUR, reason="maintenance")
    for source in (east, west):
        record_outcomes(source, at, up=1, down=9)
    poll(east, at, 1)
    poll(west, at, 1)
    assert not AlertEvent.objects.exists()  # fire_after=2: pending after one poll
    poll(east, at + timedelta(seconds=1), 2)
    fired = AlertEvent.objects.get()
    assert (fired.source_id, fired.kind, fired.silenced) == (east.pk, "fired", True)
    assert fired.value["burn_severity"] == "page"


def after_the_spread() -> datetime:
    """A time of the current hour by which every source's previous hour is due (``alerts.anomaly_spread``)."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + spread_minutes() * timedelta(minutes=1)


def test_it_fires_an_anomaly_once_per_unusual_hour_and_marks_it(client: Any) -> None:
    source = make_source("us-east")
    rule = make_rule(name="odd wait", kind="anomaly", metric="wait_time", anomaly_mode="seasonal", fire_after=1)
    now = after_the_spread()
    last_hour = now.replace(minute=0, second=0, microsecond=0) - HOUR
    seasonal_history("us-east", last_hour, 400.0)

    for n in range(3):  # three polls in the hour: the hour is judged once
        poll(source, now + timedelta(seconds=n), n)

    fired = AlertEvent.objects.get()
    assert (fired.rule_id, fired.kind) == (rule.pk, "fired")
    assert fired.value["hour"] == last_hour.isoformat()
    assert fired.value["seasonal"]["flagged"] is True
    assert fired.value["seasonal"]["z"] > 3.5


def test_it_leaves_a_usual_hour_and_a_hour_without_baseline_alone() -> None:
    source = make_source("us-east")
    make_rule(name="odd wait", kind="anomaly", metric="wait_time", anomaly_mode="both", fire_after=1)
    now = after_the_spread()
    last_hour = now.replace(minute=0, second=0, microsecond=0) - HOUR
    seasonal_history("us-east", last_hour, 103.0)
    poll(source, now, 1)
    assert not AlertEvent.objects.exists()


def test_it_reads_every_covered_sources_hours_once_and_rereads_a_source_rolled_up_since(settings: Any) -> None:
    settings.ALERTS_ANOMALY_SPREAD_MINUTES = 1  # one slot: every covered source in the first batch
    sources = [make_source(slug) for slug in ("us-east", "eu-west", "ap-south")]
    make_rule(name="odd wait", kind="anomaly", metric="wait_time", anomaly_mode="seasonal", fire_after=1)
    now = datetime.now(UTC)
    last_hour = now.replace(minute=0, second=0, microsecond=0) - HOUR
    seasonal_history("us-east", last_hour, 103.0)
    seasonal_history("eu-west", last_hour, 400.0)
    table = MetricRollup._meta.db_table

    with CaptureQueriesContext(connection) as first:
        poll(sources[0], now, 1)
    with CaptureQueriesContext(connection) as second:
        poll(sources[1], now + timedelta(seconds=1), 2)
    # ap-south's hour is rolled up after the first poll read the batch: its own poll reads it again.
    seasonal_history("ap-south", last_hour, 400.0)
    with CaptureQueriesContext(connection) as third:
        poll(sources[2], now + timedelta(seconds=2), 3)

    assert [sum(table in q["sql"] for q in c.captured_queries) for c in (first, second, third)] == [1, 0, 1]
    fired = AlertEvent.objects.order_by("source__slug")
    assert [(e.source.slug, e.value["value"]) for e in fired] == [("ap-south", 400.0), ("eu-west", 400.0)]


def test_it_judges_the_hour_again_when_another_rules_read_failed_in_the_same_poll(monkeypatch: Any) -> None:
    # The engine drops every measured observation of a poll when one rule's read fails (a store outage):
    # an hour already remembered as judged then would never be judged again by this process, and a one-hour
    # anomaly would never fire.
    source = make_source("us-east")
    seasonal = make_rule(name="odd wait", kind="anomaly", metric="wait_time", anomaly_mode="seasonal", fire_after=1)
    make_rule(name="odd among peers", kind="anomaly", metric="wait_time", anomaly_mode="peer", fire_after=1)
    now = after_the_spread()
    last_hour = now.replace(minute=0, second=0, microsecond=0) - HOUR
    seasonal_history("us-east", last_hour, 400.0)
    reads = measured._peer_means
    failures = iter([RuntimeError("the store is unavailable")])

    def peer_means_failing_once(*args: Any) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return reads(*args)

    monkeypatch.setattr(measured, "_peer_means", peer_means_failing_once)
    poll(source, now, 1)
    assert not AlertEvent.objects.exists()  # the failed read took the seasonal verdict with it
    poll(source, now + timedelta(seconds=1), 2)
    fired = AlertEvent.objects.get()
    assert (fired.rule_id, fired.kind, fired.value["hour"]) == (seasonal.pk, "fired", last_hour.isoformat())


@pytest.mark.parametrize("rolled_up_in_the_hour", [False, True], ids=["no-rollup-yet", "part-of-the-hour"])
def test_it_judges_an_hour_once_on_all_its_minutes_when_it_is_rolled_up_after_its_first_poll(
    settings: Any, rolled_up_in_the_hour: bool
) -> None:
    # Rollups come from the retention run (every RETENTION_ROLLUP_INTERVAL, or cron): at the hour's first poll
    # its rollup may not exist yet, or hold only the minutes rolled up before the hour ended. The hour used to
    # be remembered as judged there (nothing, or its first half) and never judged on all its minutes.
    settings.ALERTS_ANOMALY_SPREAD_MINUTES = 1
    source = make_source("us-east")
    rule = make_rule(name="odd wait", kind="anomaly", metric="wait_time", anomaly_mode="seasonal", fire_after=1)
    hour_start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    last_hour = hour_start - HOUR
    seasonal_history("us-east", last_hour, None)  # four usual weeks of the hour (about 100 ms)
    waits = [100.0] * 3 + [700.0] * 3  # usual in its first half, a mean of 400 over the whole hour
    samples = [
        (last_hour + n * 10 * MINUTE, payload(**{"results.stats.server.wait_time": w})) for n, w in enumerate(waits)
    ]
    record_history(source, samples[:3])
    if rolled_up_in_the_hour:
        roll_up_all(get_store())  # a run of the hour's first half, before it ended: the marker stays older

    with CaptureQueriesContext(connection) as waiting:
        poll(source, hour_start, 1)
        poll(source, hour_start + MINUTE, 2)
    assert not AlertEvent.objects.exists()
    # Waiting costs no store read: the polls look at the retention step's marker in the cache.
    assert not [q for q in waiting.captured_queries if MetricRollup._meta.db_table in q["sql"]]

    record_history(source, samples[3:])
    assert maintenance.run_step("rollup")  # the retention step, started after the hour ended
    for n in range(3):
        poll(source, hour_start + (2 + n) * MINUTE, 3 + n)

    fired = AlertEvent.objects.get()
    assert (fired.rule_id, fired.value["hour"], fired.value["value"]) == (rule.pk, last_hour.isoformat(), 400.0)


def test_it_judges_an_hour_not_rolled_up_by_the_grace_on_what_is_stored_then_once() -> None:
    source = make_source("us-east")
    make_rule(name="odd wait", kind="anomaly", metric="wait_time", anomaly_mode="seasonal", fire_after=1)
    hour_start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    last_hour = hour_start - HOUR
    seasonal_history("us-east", last_hour, None)
    # Rolled up by a cron run the poller does not hear of (a cache it does not share): no marker.
    rollup_reader(get_store()).write_rollups(
        [RollupBucket("us-east", "wait_time", "1h", last_hour, 1, 400.0, 400.0, 400.0, 400.0, last_hour)]
    )

    poll(source, hour_start + measured.ROLLUP_GRACE - MINUTE, 1)
    assert not AlertEvent.objects.exists()
    for n in range(2):
        poll(source, hour_start + measured.ROLLUP_GRACE + n * MINUTE, 2 + n)
    assert AlertEvent.objects.get().value["value"] == 400.0
