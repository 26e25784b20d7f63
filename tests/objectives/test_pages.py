"""The objectives pages and the anomalies in the changes feed: what a team member sees, and what is hidden."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from accounts.teams import default_team
from alerts.models import AlertEvent
from metrics.rollups import RollupBucket
from metrics.stores import get_store
from objectives.attainment import budget_series, measure, rollup_reader
from objectives.views import budget_chart
from tests.alerts.support import make_rule
from tests.factories import add_member, make_objective, make_source, make_team, make_user, record_outcomes

pytestmark = pytest.mark.django_db


def viewer(client: Client) -> Client:
    user = make_user("ana")
    add_member(user, default_team(), Role.VIEWER)
    client.force_login(user)
    return client


def test_it_lists_and_details_the_objectives_of_the_users_teams(client: Client) -> None:
    source = make_source("us-east")
    record_outcomes(source, timezone.now() - timedelta(hours=2), up=99, down=1)
    mine = make_objective("api up", sources=[source], target="99")
    theirs = make_objective("red up", team=make_team("red"), tag="prod")
    viewer(client)

    listing = client.get("/objectives/")
    assert b'href="/objectives/"' in listing.content  # the nav links it
    assert b"api up" in listing.content
    assert b"red up" not in listing.content
    detail = client.get(f"/objectives/{mine.pk}/")
    assert detail.status_code == 200
    assert b"99.000 % (99 good of 100)" in detail.content
    assert b"<polyline" in detail.content  # the budget chart
    assert client.get(f"/objectives/{theirs.pk}/").status_code == 404


def test_it_shows_an_objectives_attainment_and_budget_alike_on_the_list_and_its_page(client: Client) -> None:
    source = make_source("us-east")
    record_outcomes(source, timezone.now() - timedelta(hours=2), up=2999, down=1)
    objective = make_objective("api up", sources=[source], target="99")
    viewer(client)

    listing = client.get("/objectives/").content.decode()
    detail = client.get(f"/objectives/{objective.pk}/").content.decode()
    # 2999 of 3000: 99.96666...; the error budget left: 1 - (1/3000) / (1/100) = 96.666...
    for page in (listing, detail):
        assert "99.967 %" in page
        assert "96.7 %" in page
    assert "99.9667" not in detail


def test_it_places_the_budget_charts_points_by_time_over_the_whole_period(client: Client) -> None:
    """The chart spaced its points by index and left out the spans before the first poll: a 28-day period first
    polled 20 days ago was drawn from the left edge, as if its budget had been measured from the start."""
    source = make_source("us-east")
    now = timezone.now()
    record_outcomes(source, now - timedelta(days=20), up=1000)
    record_outcomes(source, now - timedelta(days=3), up=999, down=1)
    objective = make_objective("api up", sources=[source], window_days=28)
    viewer(client)

    detail = client.get(f"/objectives/{objective.pk}/").content.decode()
    [points] = re.findall(r'<polyline [^>]*points="([^"]+)"', detail)
    xs = [float(point.split(",")[0]) for point in points.split()]
    # 2-day spans from the hour at or before the start; the first with polls ends 10 days in (of 28, 480 wide).
    assert xs[0] == pytest.approx(10 / 28 * 480, abs=1)
    assert xs[-1] == 480.0  # a rolling period ends now: the right edge
    assert len(xs) == 11  # the spans from the first poll on, none left out
    assert xs == sorted(xs)


def test_it_leaves_spans_without_a_budget_figure_blank_and_shows_a_lone_point_as_a_dot() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    end = start + timedelta(days=30)

    def at(days: float) -> str:
        return (start + timedelta(days=days)).isoformat()

    series = [
        {"at": at(2), "remaining_budget_percent": None},
        {"at": at(4), "remaining_budget_percent": 100.0},
        {"at": at(6), "remaining_budget_percent": None},
        {"at": at(8), "remaining_budget_percent": 50.0},
        {"at": at(15), "remaining_budget_percent": 0.0},
    ]
    chart = budget_chart(series, start, end)
    assert chart is not None
    assert chart["dots"] == [("64.0", "0.0")]  # 4 of 30 days: x = 64; 100 % at the top
    assert chart["lines"] == ["128.0,60.0 240.0,120.0"]  # halfway through the month (15 of 30 days): x = 240
    assert chart["zero"] == "120.0"
    assert budget_chart([{"at": at(2), "remaining_budget_percent": None}], start, end) is None


def test_it_sends_a_visitor_to_the_login_page(client: Client) -> None:
    assert client.get("/objectives/").status_code == 302
    assert client.get("/reports/").status_code == 302


def test_it_lists_recent_anomalies_above_the_changes_feed(client: Client) -> None:
    source = make_source("us-east")
    rule = make_rule(name="odd wait", kind="anomaly", metric="wait_time", anomaly_mode="seasonal")
    AlertEvent.objects.create(
        rule=rule,
        rule_name=rule.name,
        source=source,
        kind="fired",
        severity="warning",
        condition="c",
        value={"metric": "wait_time", "hour": "2026-11-30T10:00:00+00:00", "value": 240.0, "seasonal": {"z": 12.1}},
        message="m",
        occurred_at=timezone.now() - timedelta(hours=1),
    )
    viewer(client)
    page = client.get("/sources/us-east/changes/")
    assert page.status_code == 200
    assert b'id="anomalies"' in page.content
    assert b"seasonal z 12.1" in page.content


def test_it_judges_an_objective_on_its_own_teams_sources_only(client: Client) -> None:
    # A chosen source later moved to another team (the admin, configuration as code) stays in the objective's
    # list of sources: its name and numbers must not reach the objective's team, nor count towards its budget.
    mine, moved = make_source("us-east"), make_source("eu-west")
    record_outcomes(mine, timezone.now() - timedelta(hours=2), up=99, down=1)
    record_outcomes(moved, timezone.now() - timedelta(hours=2), down=50)
    objective = make_objective("api up", sources=[mine, moved], target="99")
    moved.team = make_team("red")
    moved.save()
    viewer(client)

    detail = client.get(f"/objectives/{objective.pk}/")
    assert b"99.000 % (99 good of 100)" in detail.content
    assert b"Eu West" not in detail.content
    assert [source.slug for source in objective.covered_sources()] == ["us-east"]
    assert not objective.covers(moved)


def test_it_states_the_target_and_period_as_they_are_judged(client: Client) -> None:
    # The page printed the stored Decimal ("99.9000 %") and a calendar objective as "30 days (calendar)",
    # which is the calendar month (28 or 31 days as it comes), as a 7-day one is the ISO week.
    source = make_source("us-east")
    month = make_objective("month", sources=[source], target="99.9", window_kind="calendar")
    week = make_objective("week", sources=[source], target="99.95", window_days=7, window_kind="calendar")
    rolling = make_objective("rolling", sources=[source], window_days=28)
    viewer(client)

    assert (
        "99.9 % of answered polls over the calendar month (UTC)"
        in client.get(f"/objectives/{month.pk}/").content.decode()
    )
    week_page = client.get(f"/objectives/{week.pk}/").content.decode()
    assert "99.95 % of answered polls over the calendar week (Monday to Sunday, UTC)" in week_page
    assert "over the last 28 days" in client.get(f"/objectives/{rolling.pk}/").content.decode()
    listing = client.get("/objectives/").content.decode()
    assert "<td>the calendar month (UTC)</td>" in listing
    assert "99.9000" not in listing + week_page


def test_it_says_the_day_windows_lag_by_up_to_an_hour(client: Client) -> None:
    # 1 d and 3 d count whole hour buckets before the current hour: 40 minutes in, they showed fewer events
    # than the 1 h window, with nothing on the page saying why.
    objective = make_objective("api up", sources=[make_source("us-east")])
    viewer(client)
    page = client.get(f"/objectives/{objective.pk}/").content.decode()
    assert "so 1 d and 3 d lag by up to an hour" in page


def test_it_flags_an_objective_whose_sources_lost_its_tag(client: Client) -> None:
    # Refused when saved, an objective can still come to cover no source (re-tagged, moved or deleted since): its
    # page said only "no data yet", and its burn-rate rules could not fire, with nothing saying so.
    source = make_source("us-east", tags=["prod"])
    objective = make_objective("api up", tag="prod")
    viewer(client)
    assert 'id="uncovered"' not in client.get(f"/objectives/{objective.pk}/").content.decode()
    source.tags = ["canary"]
    source.save()
    page = client.get(f"/objectives/{objective.pk}/").content.decode()
    assert "Covers no source: no source of its team has the tag &#x27;prod&#x27;." in page
    assert "its burn-rate rules cannot fire" in page


def test_it_draws_the_budget_of_a_metric_objective_from_the_minutes_its_attainment_counts(client: Client) -> None:
    # Only availability objectives had the chart: a metric one showed its figure alone, unexplained, though its
    # good and bad minutes through the period are as countable as polls.
    source = make_source("us-east")
    now = timezone.now().replace(second=0, microsecond=0)
    minutes = {now - timedelta(days=6, minutes=m): 50.0 for m in range(1, 61)}  # an hour all good
    minutes |= {now - timedelta(days=2, minutes=m): 250.0 if m <= 3 else 50.0 for m in range(1, 61)}  # 3 slow
    rollup_reader(get_store()).write_rollups(
        [RollupBucket("us-east", "wait_time", "1m", at, 1, v, v, v, v, at) for at, v in minutes.items()]
    )
    objective = make_objective(
        "fast", sources=[source], kind="metric", metric="wait_time", operator="<", bound=100, target="95", window_days=7
    )
    viewer(client)

    page = client.get(f"/objectives/{objective.pk}/").content.decode()
    [points] = re.findall(r'<polyline [^>]*points="([^"]+)"', page)
    ys = [float(point.split(",")[1]) for point in points.split()]
    assert ys[0] == 0.0  # 100 % left at the top while every minute was good
    assert ys[-1] > ys[0]  # then 3 bad minutes of 120 spent half the 5 % budget: 50 % left
    assert "Error budget left</dt><dd>50.0 %" in page
    assert "blank until the first minute with a rollup of wait_time" in page
    budget = [p["remaining_budget_percent"] for p in budget_series(objective, get_store(), timezone.now())]
    assert budget[-1] == pytest.approx(50.0)
    assert budget[-1] == pytest.approx(measure(objective, get_store(), timezone.now()).remaining_budget_percent)


def test_it_flags_on_the_list_the_objectives_that_cover_no_source(client: Client) -> None:
    # The list showed only "no data" for them, as for a new objective: only their own page said why.
    kept, moved = make_source("us-east"), make_source("eu-west")
    covering = make_objective("api up", sources=[kept])
    left = make_objective("eu up", sources=[moved])
    moved.team = make_team("red")
    moved.save()
    viewer(client)
    listing = client.get("/objectives/").content.decode()

    def row(objective_pk: int) -> str:
        found = re.search(rf'<tr data-objective="{objective_pk}">(.*?)</tr>', listing, re.S)
        assert found, listing
        return found.group(1)

    flag = "Covers no source: none of its chosen sources is of its team. It judges nothing"
    assert flag in row(left.pk)
    assert "Covers no source" not in row(covering.pk)
    # Said as the objective's own page says it.
    assert flag in client.get(f"/objectives/{left.pk}/").content.decode()


def app_queries(queries: CaptureQueriesContext) -> list[str]:
    """The page's own queries: the metric store's reads (one an objective, by design: ``measure``) left out."""
    return [query["sql"] for query in queries.captured_queries if '"metrics_' not in query["sql"]]


def source_reads(queries: CaptureQueriesContext) -> list[str]:
    """The reads of the sources of the team, which tagged objectives are covered by (``covered_sources_of``):
    the chosen sources' read, prefetched with the objectives, left out."""
    return [
        query["sql"]
        for query in queries.captured_queries
        if 'FROM "pollers_source"' in query["sql"] and '"objectives_objective_sources"' not in query["sql"]
    ]


def test_it_lists_objectives_in_as_many_queries_for_one_as_for_several(client: Client) -> None:
    # Each row read its covered sources twice, for its measure and for its "covers no source" flag: two
    # queries an objective of a tag, so the list's queries grew with the objectives.
    us_east = make_source("us-east", tags=["prod"])
    make_source("eu-west", tags=["prod", "eu"])
    make_objective("by prod", tag="prod")
    viewer(client)
    client.get("/objectives/")  # warm the session and user caches of this client
    with CaptureQueriesContext(connection) as one:
        assert client.get("/objectives/").status_code == 200

    make_objective("by eu", tag="eu")
    make_objective("chosen", sources=[us_east])
    make_objective("lost", tag="canary")  # its tag went since: flagged, from the same read
    make_objective("moved", sources=[make_source("ap-south", team=make_team("red"))])
    with CaptureQueriesContext(connection) as several:
        listing = client.get("/objectives/").content.decode()

    assert listing.count("<tr data-objective=") == 5
    assert listing.count("Covers no source") == 2
    assert "Covers no source: no source of its team has the tag &#x27;canary&#x27;." in listing
    assert "Covers no source: none of its chosen sources is of its team." in listing
    assert len(app_queries(several)) == len(app_queries(one))
    assert len(source_reads(several)) == 1


def test_it_reads_an_objectives_covered_sources_once_for_its_page(client: Client) -> None:
    # The measure, the budget chart, the list of sources and the "covers no source" flag each read them.
    source = make_source("us-east", tags=["prod"])
    record_outcomes(source, timezone.now() - timedelta(hours=2), up=99, down=1)
    objective = make_objective("api up", tag="prod", target="99")
    viewer(client)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(f"/objectives/{objective.pk}/").content.decode()
    assert "99.000 % (99 good of 100)" in page
    assert "<polyline" in page
    assert "Us East" in page
    assert 'id="uncovered"' not in page
    assert len(source_reads(queries)) == 1
