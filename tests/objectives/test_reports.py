"""Reports: outages, MTTR and the slowest hours from the availability buckets; HTML, CSV, access; e-mail."""

from __future__ import annotations

import csv
import io
import smtplib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends import locmem
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from accounts.teams import default_team
from metrics.stores import get_store
from metrics.stores.base import AvailabilityBucket
from objectives import reports
from objectives.models import ReportSubscription
from pollers.models import Source
from tests.factories import add_member, make_objective, make_source, make_team, make_user, record_outcomes

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 10, 5, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


def bucket(minute: int, up: int, down: int) -> AvailabilityBucket:
    return AvailabilityBucket(T0 + minute * MINUTE, "1m", up + down, up, {}, {"timeout": down} if down else {})


def test_it_finds_outages_across_minutes_without_polls() -> None:
    found = reports.outages(
        "us-east",
        # up, down, (no polls), down, up (outage 1: 3 minutes); mixed (not an outage); down to the end (ongoing)
        [bucket(0, 2, 0), bucket(1, 0, 2), bucket(3, 0, 1), bucket(4, 2, 0), bucket(5, 1, 1), bucket(8, 0, 2)],
        MINUTE,
        T0 + 10 * MINUTE,
    )
    assert [(o.start, o.end, o.ongoing, o.error_kind) for o in found] == [
        (T0 + MINUTE, T0 + 4 * MINUTE, False, "timeout"),
        (T0 + 8 * MINUTE, T0 + 10 * MINUTE, True, "timeout"),
    ]
    incidents = reports.Incidents(found)
    assert (incidents.count, incidents.total, incidents.longest) == (2, 5 * MINUTE, 3 * MINUTE)
    assert incidents.mttr == 3 * MINUTE  # the ongoing one has not recovered: not in the mean


def seed() -> None:
    east = make_source("us-east")
    record_outcomes(east, T0, up=10)
    record_outcomes(east, T0 + 5 * MINUTE, down=3)
    record_outcomes(east, T0 + 6 * MINUTE, down=3, error_kind="http_503")
    record_outcomes(east, T0 + 9 * MINUTE, up=4)
    make_objective("east up", sources=[east], target="99")


def test_it_reports_a_month_of_a_team() -> None:
    seed()
    report = reports.for_team(get_store(), default_team(), *reports.month_range("2026-10"), T0 + timedelta(days=40))
    [line] = report.sources
    assert (line.polls, line.up) == (20, 14)
    assert report.availability_percent == pytest.approx(70.0)
    assert [(o.start, o.end) for o in report.incidents.outages] == [(T0 + 5 * MINUTE, T0 + 9 * MINUTE)]
    assert report.incidents.mttr == 4 * MINUTE
    assert report.slowest[0].start == T0.replace(minute=0)
    [objective] = report.objectives
    assert (objective.attainment_percent, objective.met) == (pytest.approx(70.0), False)
    rows = list(csv.reader(io.StringIO(reports.to_csv(report))))
    assert rows[2][:5] == ["us-east", "20", "14", "70.0000", "1"]
    assert rows[2][5:] == ["240", "240", "240"]


def source_reads(queries: CaptureQueriesContext) -> list[str]:
    """The reads of the team's sources, which tagged objectives are covered by: the chosen sources' read,
    prefetched with the objectives, left out."""
    return [
        query["sql"]
        for query in queries.captured_queries
        if 'FROM "pollers_source"' in query["sql"] and '"objectives_objective_sources"' not in query["sql"]
    ]


def app_queries(queries: CaptureQueriesContext) -> list[str]:
    """The report's own queries: the metric store's reads (per source, by design) left out."""
    return [query["sql"] for query in queries.captured_queries if '"metrics_' not in query["sql"]]


def test_it_reports_a_teams_objectives_in_as_many_queries_for_one_as_for_several() -> None:
    # Each objective of a tag read its team's sources again for its line: the team report's queries grew with
    # its objectives.
    seed()
    east = Source.objects.get(slug="us-east")
    east.tags = ["prod"]
    east.save()
    make_source("eu-west", tags=["prod", "eu"])
    make_objective("prod up", tag="prod", target="99")
    month, now = reports.month_range("2026-10"), T0 + timedelta(days=40)
    with CaptureQueriesContext(connection) as one:
        reports.for_team(get_store(), default_team(), *month, now)

    make_objective("eu up", tag="eu", target="99")
    make_objective("east again", sources=[east], target="99")
    make_objective("canary up", tag="canary", target="99")  # its tag went since: no source, no attainment
    with CaptureQueriesContext(connection) as several:
        report = reports.for_team(get_store(), default_team(), *month, now)

    assert [(o.name, o.attainment_percent) for o in report.objectives] == [
        ("canary up", None),
        ("east again", pytest.approx(70.0)),
        ("east up", pytest.approx(70.0)),
        ("eu up", None),
        ("prod up", pytest.approx(70.0)),
    ]
    assert len(app_queries(several)) == len(app_queries(one))
    assert len(source_reads(several)) == len(source_reads(one)) == 2  # the report's sources, the tagged ones


def test_it_reports_the_current_month_up_to_now_and_says_so() -> None:
    # The month's report covered it to its end while under way: the days to come were in its range, its CSV and
    # its title, and whatever the store held stamped after now (a poller's clock ahead) was counted.
    seed()
    east = Source.objects.get(slug="us-east")
    now = T0 + timedelta(days=2, hours=3)  # 7 October, 13:00
    record_outcomes(east, now + timedelta(days=1), down=30)  # after now: not yet, not counted
    report = reports.for_team(get_store(), default_team(), *reports.month_range("2026-10"), now)
    [line] = report.sources
    assert (line.polls, line.up) == (20, 14)  # the 30 failures after now are not counted
    [objective] = report.objectives
    assert objective.attainment_percent == pytest.approx(70.0)  # judged on the elapsed part only
    assert (report.start, report.end, report.to_date) == (datetime(2026, 10, 1, tzinfo=UTC), now, True)
    assert report.days() == "1-7 October 2026, to date"
    rows = list(csv.reader(io.StringIO(reports.to_csv(report))))
    assert rows[0][2:] == ["2026-10-01T00:00:00+00:00", now.isoformat()]
    source = reports.for_source(get_store(), east, *reports.month_range("2026-10"), now)
    assert (source.end, source.objectives[0].attainment_percent) == (now, pytest.approx(70.0))


def test_it_leaves_a_past_months_report_as_it_was() -> None:
    seed()
    east = Source.objects.get(slug="us-east")
    record_outcomes(east, T0 + timedelta(days=3), down=30)
    report = reports.for_team(get_store(), default_team(), *reports.month_range("2026-10"), T0 + timedelta(days=40))
    assert (report.end, report.sources[0].polls, report.sources[0].up) == (datetime(2026, 11, 1, tzinfo=UTC), 50, 14)
    assert report.objectives[0].attainment_percent == pytest.approx(28.0)
    assert (report.to_date, report.days()) == (False, "1-31 October 2026")


def test_it_titles_the_current_months_page_to_date_and_refuses_to_mail_it(client: Client) -> None:
    east = make_source("us-east")
    now = datetime.now(UTC)
    # At the month's first moment, not a few minutes before now: on the 1st just after midnight those
    # minutes were last month's, and the page counted no poll.
    record_outcomes(east, now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), up=4)
    record_outcomes(east, now + timedelta(days=1), down=4)  # stamped ahead of now: not counted
    user = make_user("ana")
    add_member(user, default_team(), Role.VIEWER)
    client.force_login(user)
    page = client.get("/reports/", {"source": "us-east", "month": now.strftime("%Y-%m")}).content.decode()
    after = datetime.now(UTC)  # the page's own "now" lies between: a midnight may have passed in between

    def to_date(moment: datetime) -> str:
        days = f"1-{moment.day}" if moment.day > 1 else "1"
        return f"{days} {moment:%B %Y}, to date"

    assert to_date(now) in page or to_date(after) in page
    assert "100.000 % of 4 polls" in page
    with pytest.raises(CommandError, match="is not over yet"):
        call_command("send_reports", "--month", now.strftime("%Y-%m"), stdout=io.StringIO())


def test_it_counts_the_polls_whose_minute_buckets_retention_pruned() -> None:
    # By the 1st the default policy (minute buckets 30 days) has pruned the first day of a 31-day month
    # from the minute buckets; a policy keeping hours 30 days prunes the start of a longer range's hours.
    seed()
    east = Source.objects.get(slug="us-east")
    record_outcomes(east, T0 + timedelta(days=20), up=6)
    store = get_store()
    store.prune_availability("us-east", "1m", datetime(2026, 10, 7, tzinfo=UTC))  # on an hour, as retention does
    month = reports.for_team(store, default_team(), *reports.month_range("2026-10"), T0 + timedelta(days=40))
    [line] = month.sources
    assert (line.polls, line.up) == (26, 20)
    # Known to the hour there: the 10:00 hour had answered polls, so no bucket was all down.
    assert month.incidents.count == 0
    store.prune_availability("us-east", "1h", datetime(2026, 10, 6, tzinfo=UTC))
    days = reports.day_range(date(2026, 9, 1), date(2026, 11, 30))
    whole = reports.for_team(store, default_team(), *days, T0 + timedelta(days=90))
    assert (whole.sources[0].polls, whole.sources[0].up) == (26, 20)


def test_it_judges_an_objective_on_the_polls_its_sources_report_when_hours_were_pruned() -> None:
    # A policy may keep hour buckets 30 days: by the 1st, the first day of a 31-day month is gone from them.
    seed()
    east = Source.objects.get(slug="us-east")
    record_outcomes(east, T0 + timedelta(days=20), up=6)
    store = get_store()
    for tier in ("1m", "1h"):
        store.prune_availability("us-east", tier, datetime(2026, 10, 7, tzinfo=UTC))  # on a day, as retention does
    team = reports.for_team(store, default_team(), *reports.month_range("2026-10"), T0 + timedelta(days=40))
    [line] = team.sources
    assert (line.polls, line.up) == (26, 20)
    [objective] = team.objectives
    assert (objective.attainment_percent, objective.met) == (pytest.approx(100 * 20 / 26), False)
    source = reports.for_source(store, east, *reports.month_range("2026-10"), T0 + timedelta(days=40))
    assert source.objectives[0].attainment_percent == pytest.approx(100 * 20 / 26)


def test_it_ranks_the_slowest_spans_on_the_polls_the_report_counts() -> None:
    # The slowest spans come from the same record as the polls (``kept``): where minutes are kept each hour
    # is their sum, and where a policy pruned the hours (kept 30 days) the day stands in for them whole.
    seed()
    east = Source.objects.get(slug="us-east")
    record_outcomes(east, T0 + timedelta(days=20), up=6)
    store = get_store()
    month = reports.month_range("2026-10")
    kept = reports.for_team(store, default_team(), *month, T0 + timedelta(days=40)).sources[0]
    assert sum(h.polls for h in kept.slowest) == kept.polls == 26
    for tier in ("1m", "1h"):
        store.prune_availability("us-east", tier, datetime(2026, 10, 7, tzinfo=UTC))  # on a day, as retention does
    [line] = reports.for_team(store, default_team(), *month, T0 + timedelta(days=40)).sources
    assert [(h.start, h.width, h.polls) for h in line.slowest] == [
        (datetime(2026, 10, 5, tzinfo=UTC), timedelta(days=1), 20),
        ((T0 + timedelta(days=20)).replace(minute=0), timedelta(hours=1), 6),
    ]
    assert sum(h.polls for h in line.slowest) == line.polls
    rows = list(csv.reader(io.StringIO(reports.to_csv(reports.for_source(store, east, *month, T0 + 40 * DAY)))))
    assert (rows[-2][1], rows[-2][3:]) == ("2026-10-05T00:00:00+00:00", ["20", "86400"])


@pytest.mark.parametrize("month", ["2026-13", "26-10", "october"])
def test_it_refuses_a_month_that_is_not_one(month: str) -> None:
    with pytest.raises(reports.ReportRangeError):
        reports.month_range(month)


def test_it_shows_the_printable_report_and_its_csv_to_a_viewer(client: Client) -> None:
    seed()
    user = make_user("ana")
    add_member(user, default_team(), Role.VIEWER)
    client.force_login(user)

    page = client.get("/reports/", {"source": "us-east", "month": "2026-10"})
    assert page.status_code == 200
    assert b"70.000 %" in page.content
    assert b"report.css" in page.content
    download = client.get("/reports/", {"source": "us-east", "month": "2026-10", "format": "csv"})
    assert download["Content-Type"].startswith("text/csv")
    assert b"us-east,20,14" in download.content


def test_it_hides_another_teams_report_and_explains_a_bad_range(client: Client) -> None:
    seed()
    user = make_user("ana")
    add_member(user, make_team("red"), Role.ADMIN)
    client.force_login(user)
    assert client.get("/reports/", {"source": "us-east", "month": "2026-10"}).status_code == 404
    assert client.get("/reports/", {"team": "default", "month": "2026-10"}).status_code == 404
    bad = client.get("/reports/", {"team": "red", "from": "2026-10-09", "to": "2026-10-01"})
    assert bad.status_code == 400
    assert b"before the first" in bad.content
    assert client.get("/reports/", {"team": "red", "from": "2026-10-09"}).status_code == 400


def test_it_explains_a_range_ending_beyond_the_calendar(client: Client) -> None:
    # December 9999 ends on a date Python has no datetime for: these were 500 (OverflowError).
    seed()
    user = make_user("ana")
    add_member(user, default_team(), Role.VIEWER)
    client.force_login(user)
    for query, message in [
        ({"month": "9999-12"}, b"month must be before 9999-12"),
        ({"from": "9999-12-31", "to": "9999-12-31"}, b"the last day must be before 9999-12-31"),
    ]:
        page = client.get("/reports/", {"team": "default", **query})
        assert page.status_code == 400
        assert message in page.content
    # Ranges that have not begun: nothing to report (days to come are not counted), said so rather than a 500.
    for query in (
        {"team": "default", "month": "9999-11", "format": "csv"},
        {"source": "us-east", "from": "9999-12-30", "to": "9999-12-30"},
    ):
        future = client.get("/reports/", query)
        assert future.status_code == 400
        assert b"has not begun yet" in future.content
    with pytest.raises(CommandError, match="before 9999-12"):
        call_command("send_reports", "--month", "9999-12", stdout=io.StringIO())


def test_it_mails_each_subscription_once_a_month(settings: object) -> None:
    seed()
    subscription = ReportSubscription(team=default_team(), recipients="ops@example.com, cto@example.com")
    subscription.full_clean()
    subscription.save()

    call_command("send_reports", "--month", "2026-10", stdout=io.StringIO())
    call_command("send_reports", "--month", "2026-10", stdout=io.StringIO())

    [message] = mail.outbox
    assert message.to == ["ops@example.com", "cto@example.com"]
    assert "2026-10" in message.subject
    assert "70.000 %" in message.body
    assert message.attachments[0][0] == "report-team-default-2026-10.csv"
    assert "us-east,20,14" in message.attachments[0][1]


def test_it_mails_no_report_of_a_source_moved_to_another_team() -> None:
    # The subscription stays linked to the moved source (checked on save only): its report, with the new team's
    # objectives and numbers, must not go to the old team's recipients.
    seed()
    east = Source.objects.get(slug="us-east")
    ReportSubscription.objects.create(team=default_team(), source=east, recipients="ops@example.com")
    east.team = make_team("red")
    east.save()
    make_objective("red's own", sources=[east], team=east.team)

    out = io.StringIO()
    call_command("send_reports", "--month", "2026-10", stdout=out)

    assert mail.outbox == []
    assert "0 report(s) sent" in out.getvalue()


class RefusingBackend(locmem.EmailBackend):
    """Django's test outbox, but refusing mail to bounce.example.com as a mail server refuses a dead address."""

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        for message in messages:
            if any(address.endswith("@bounce.example.com") for address in message.to):
                raise smtplib.SMTPRecipientsRefused({message.to[0]: (550, b"no such user")})
        return super().send_messages(messages)


def test_it_sends_the_other_subscriptions_when_one_fails(settings: Any) -> None:
    # Subscriptions go in team order: one that always fails came first in every run, and held back the rest.
    seed()
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    failing = ReportSubscription.objects.create(team=default_team(), recipients="gone@bounce.example.com")
    working = ReportSubscription.objects.create(team=default_team(), recipients="ops@example.com")

    with pytest.raises(CommandError, match="1 report\\(s\\) not sent"):
        call_command("send_reports", "--month", "2026-10", stdout=io.StringIO())

    [message] = mail.outbox
    assert message.to == ["ops@example.com"]
    failing.refresh_from_db()
    working.refresh_from_db()
    assert (failing.last_sent_month, working.last_sent_month) == ("", "2026-10")  # the failed one is retried


def test_it_refuses_a_subscription_without_a_valid_address() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        ReportSubscription(team=default_team(), recipients="not-an-address").full_clean()


def test_it_says_a_range_needs_both_its_days(client: Client) -> None:
    # Only one of from and to answered "write days as YYYY-MM-DD", though the day given was written so.
    seed()
    user = make_user("ana")
    add_member(user, default_team(), Role.VIEWER)
    client.force_login(user)
    for query in ({"from": "2026-10-01"}, {"to": "2026-10-09"}):
        page = client.get("/reports/", {"team": "default", **query})
        assert page.status_code == 400
        assert b"give both from and to (YYYY-MM-DD), or a month" in page.content
