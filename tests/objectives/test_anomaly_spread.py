"""Anomaly rules judge each source's last hour in its own minute of the hour's first N (alerts.anomaly_spread):
every source exactly once an hour, each minute reading only its share, and a restarted process neither skips a
source nor counts an hour twice. Polls go through the real signal; rollups and rule states are real rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts import measured
from alerts.anomaly_spread import slot_of
from alerts.models import AlertEvent, AlertRule, RuleState
from metrics.models import MetricRollup
from tests.alerts.support import make_rule
from tests.factories import make_source
from tests.objectives.support import HOUR, poll, seasonal_history

pytestmark = pytest.mark.django_db
MINUTE = timedelta(minutes=1)
SPREAD = 4


@pytest.fixture
def hour_start(settings: Any) -> datetime:
    """The start of the hour whose polls judge the hour before it (ahead of now, as polls of a running poller)."""
    settings.ALERTS_ANOMALY_SPREAD_MINUTES = SPREAD
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + HOUR


def unusual_fleet(hour_start: datetime, count: int = 2 * SPREAD) -> list[Any]:
    """``count`` sources (every slot twice) whose last hour is far off their season."""
    sources = [make_source(f"s{n}") for n in range(count)]
    for source in sources:
        seasonal_history(source.slug, hour_start - HOUR, 400.0)
    return sources


def odd_rule() -> AlertRule:
    # fire_after=2: an hour judged once leaves the rule pending; the same hour judged twice would fire it.
    return make_rule(name="odd wait", kind="anomaly", metric="wait_time", anomaly_mode="seasonal", fire_after=2)


def judged(rule: AlertRule, hour: datetime) -> dict[str, int]:
    """slug -> how many unusual hours the rule has counted for it, for the sources whose ``hour`` it judged."""
    states = RuleState.objects.filter(rule=rule).select_related("source")
    return {s.source.slug: s.true_streak for s in states if (s.last_value or {}).get("hour") == hour.isoformat()}


def poll_minute(sources: list[Any], hour_start: datetime, minute: int) -> None:
    for n, source in enumerate(sources):
        poll(source, hour_start + minute * MINUTE + n * timedelta(seconds=1), f"{minute}-{source.pk}")


def test_it_judges_each_source_once_an_hour_in_its_own_minute_reading_only_that_minutes_share(
    hour_start: datetime,
) -> None:
    sources = unusual_fleet(hour_start)
    rule = odd_rule()
    table = MetricRollup._meta.db_table

    reads = []
    for minute in [*range(SPREAD + 2), 30, 59]:  # every source polled every minute, as at a 30 s interval
        with CaptureQueriesContext(connection) as captured:
            poll_minute(sources, hour_start, minute)
        reads.append(sum(table in q["sql"] for q in captured.captured_queries))
        due = {s.slug: 1 for s in sources if slot_of(s.pk, SPREAD) <= minute}
        assert judged(rule, hour_start - HOUR) == due, f"minute {minute}"

    # One read a minute while the spread lasts (that minute's slot, both of its sources), none after it.
    assert reads == [1] * SPREAD + [0] * 4
    assert not AlertEvent.objects.exists()  # each hour counted once: pending, never fired


def test_it_neither_skips_nor_counts_an_hour_twice_when_the_process_restarts_mid_spread(
    hour_start: datetime,
) -> None:
    sources = unusual_fleet(hour_start)
    rule = odd_rule()
    for minute in range(SPREAD // 2):
        poll_minute(sources, hour_start, minute)
    first_half = judged(rule, hour_start - HOUR)
    assert 0 < len(first_half) < len(sources)

    measured.forget()  # a restarted poller: nothing of this hour in its memory, only the rule states
    for minute in range(SPREAD // 2, SPREAD + 1):
        poll_minute(sources, hour_start, minute)

    assert judged(rule, hour_start - HOUR) == {s.slug: 1 for s in sources}
    assert not AlertEvent.objects.exists()


def test_it_judges_a_source_polled_too_seldom_to_reach_its_minute_at_its_last_poll_before_the_spread_ends(
    hour_start: datetime,
) -> None:
    late = next(s for s in unusual_fleet(hour_start) if slot_of(s.pk, SPREAD) == SPREAD - 1)
    rule = make_rule(name="odd wait", kind="anomaly", metric="wait_time", anomaly_mode="seasonal", fire_after=1)

    poll(late, hour_start, "often")  # polled every 30 s: its minute comes later in the hour
    assert not AlertEvent.objects.exists()

    late.interval_seconds = (SPREAD - 1) * 60  # polled at minute 2 its next poll would come after the spread
    poll(late, hour_start + 2 * MINUTE, "seldom")
    fired = AlertEvent.objects.get()
    assert (fired.source_id, fired.rule_id, fired.value["hour"]) == (late.pk, rule.pk, (hour_start - HOUR).isoformat())


def test_it_compares_peers_from_one_read_of_every_covered_sources_hour(hour_start: datetime) -> None:
    sources = [make_source(f"s{n}") for n in range(SPREAD)]  # one a slot
    for n, source in enumerate(sources[:-1]):
        seasonal_history(source.slug, hour_start - HOUR, 100.0 + n)
    seasonal_history(sources[-1].slug, hour_start - HOUR, 400.0)  # departs from the other regions
    make_rule(name="odd wait", kind="anomaly", metric="wait_time", anomaly_mode="peer", fire_after=1)
    table = MetricRollup._meta.db_table

    reads = []
    for minute in range(SPREAD):
        with CaptureQueriesContext(connection) as captured:
            poll_minute(sources, hour_start, minute)
        reads.append(sum(table in q["sql"] for q in captured.captured_queries))

    # Each minute its slot's own hours; the peers' hour once, by the first verdict of the hour.
    assert reads == [2] + [1] * (SPREAD - 1)
    fired = AlertEvent.objects.get()
    assert (fired.source_id, fired.value["peer"]["flagged"]) == (sources[-1].pk, True)
