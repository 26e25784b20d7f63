"""The burn_rate and anomaly rule kinds: validation, and evaluation through the alert engine with the
hysteresis and silences of every rule (store reads are real; polls are driven as the poller sends them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.anomaly_spread import spread_minutes
from alerts.forms import AlertRuleForm
from alerts.models import AlertEvent, AlertRule, Silence
from metrics.models import MetricRollup
from tests.alerts.support import make_rule
from tests.factories import make_objective, make_source, make_team, record_outcomes
from tests.objectives.support import HOUR, poll, seasonal_history

pytestmark = pytest.mark.django_db


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
    from alerts import measured

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
