"""Cards and changes (issue 16): groups sorted by their worst status, clear group headers, the source's own
alert counts apart from our rules, neutral plain facts, pinned metrics, important changes first and the
rest expanding in place, and the changes and system pages' live parts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from dashboard.changes import important_first
from dashboard.payload_view import field_for
from metrics.stores.base import FieldChange
from pollers.models import MAX_PINNED_METRICS
from tests.factories import logged_in, make_source, payload, record

pytestmark = pytest.mark.django_db


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def card_html(html: str, slug: str) -> str:
    match = re.search(rf'<article class="card[^"]*" data-source="{re.escape(slug)}".*?</article>', html, re.S)
    assert match, f"no card for {slug}"
    return match.group(0)


def fresh(slug: str, **fields: object) -> object:
    now = timezone.now()
    return make_source(slug, last_polled_at=now, last_success_at=now, **fields)


def test_it_orders_groups_by_their_worst_status_when_sorted_by_status(user_client: Client) -> None:
    now = timezone.now()
    for slug in ("ap-southeast", "eu-west", "us-east"):
        record(fresh(slug), payload(), now)
    record(fresh("us-west"), payload(status="error"), now)

    html = user_client.get("/?sort=status").content.decode()
    groups = re.findall(r'<section class="group" data-group="([^"]+)"', html)
    assert groups[0] == "us-west"
    assert groups[1:] == ["ap-southeast", "eu-west", "us-east"]  # equal groups keep name order
    cards = re.findall(r'<article class="card[^"]*" data-source="([^"]+)"', html)
    assert cards[0] == "us-west"

    by_name = re.findall(
        r'<section class="group" data-group="([^"]+)"', user_client.get("/?sort=name").content.decode()
    )
    assert by_name == ["ap-southeast", "eu-west", "us-east", "us-west"]


def test_it_sorts_cards_within_a_group_by_status(user_client: Client) -> None:
    now = timezone.now()
    record(fresh("a-ok", region="lab"), payload(), now)
    record(fresh("b-bad", region="lab"), payload(status="error"), now)
    html = user_client.get("/?sort=status").content.decode()
    assert re.findall(r'<article class="card[^"]*" data-source="([^"]+)"', html) == ["b-bad", "a-ok"]


def test_it_says_what_the_group_count_counts(user_client: Client) -> None:
    now = timezone.now()
    record(fresh("ap-southeast"), payload(), now)
    record(fresh("lab-1", region="lab"), payload(), now)
    record(fresh("lab-2", region="lab"), payload(), now)
    page = text(user_client.get("/").content.decode())
    assert "ap-southeast · 1 source " in page
    assert "lab · 2 sources " in page


def test_it_keeps_the_sources_own_alert_counts_apart_from_our_rules(user_client: Client) -> None:
    from alerts.models import AlertRule, RuleState

    source = fresh("us-east")
    record(
        source,
        payload(**{"results.alerts": {"critical_alerts": 0, "warning_alerts": 3, "info_alerts": 1}}),
        timezone.now(),
    )
    rule = AlertRule.objects.create(name="cpu", metric="cpu_load", operator=">", threshold=1)
    RuleState.objects.create(rule=rule, source=source, status=RuleState.Status.FIRING, firing_since=timezone.now())
    card = card_html(user_client.get("/").content.decode(), "us-east")
    reported = re.search(r'data-role="reported-alerts">(.*?)</p>', card, re.S)
    ours = re.search(r'data-role="our-alerts">(.*?)</p>', card, re.S)
    assert reported
    assert ours
    assert "Source reports" in text(reported.group(1))
    assert "3 warning" in text(reported.group(1))
    assert "firing" not in reported.group(1)
    assert "Our rules" in text(ours.group(1))
    assert "1 alert firing" in text(ours.group(1))


@pytest.mark.parametrize(("build", "tone"), [("pending", "neutral"), ("success", "neutral"), ("failed", "bad")])
def test_it_colours_only_a_failed_build(user_client: Client, build: str, tone: str) -> None:
    record(fresh("us-east"), payload(**{"results.deployment": {"build_status": build}}), timezone.now())
    card = card_html(user_client.get("/").content.decode(), "us-east")
    assert f'data-tone="{tone}">{build}<' in card


def test_it_shows_plain_yes_no_facts_neutral_and_health_words_coloured() -> None:
    assert field_for("strict", False).good is None
    assert field_for("strict", True).good is None
    assert field_for("healthy", False).good is False
    assert field_for("build_status", "pending").good is None
    assert field_for("build_status", "failed").good is False
    assert field_for("build_status", "success").good is True
    assert field_for("threat_level", "medium").good is None


def test_it_puts_pinned_metrics_first_on_the_card(user_client: Client) -> None:
    paths = {"cpu_load": "results.stats.server.cpu_load", "timers": "results.stats.server.timers"}
    source = fresh("us-east", metric_paths=paths, pinned_metrics=["timers"])
    record(source, payload(), timezone.now())
    card = card_html(user_client.get("/").content.decode(), "us-east")
    assert re.findall(r'data-metric="([^"]+)"', card)[:2] == ["timers", "cpu_load"]


@pytest.mark.parametrize(
    ("pinned", "message"),
    [
        ("timers", "must be a JSON list of metric names"),
        ([1], "must be a JSON list of metric names"),
        (["x"] * (MAX_PINNED_METRICS + 1), f"Pin at most {MAX_PINNED_METRICS} metrics"),
        (["y" * 65], "at most 64 characters"),
        (["nope"], "Not a metric of this source: nope"),
    ],
)
def test_it_refuses_bad_pinned_metrics_clearly_and_keeps_what_was_stored(
    allow_loopback: object, pinned: object, message: str
) -> None:
    source = make_source("us-east", metric_paths={"timers": "results.stats.server.timers"}, pinned_metrics=["timers"])
    source.pinned_metrics = pinned
    with pytest.raises(ValidationError, match=re.escape(message)):
        source.full_clean()
    source.refresh_from_db()
    assert source.pinned_metrics == ["timers"]


def test_it_lists_important_paths_first() -> None:
    diff = [
        FieldChange("results.stats.online", 1, 2, "changed"),
        FieldChange("results.services.redis", True, False, "changed"),
        FieldChange("results.stats.session", 1, 2, "changed"),
        FieldChange("server_issue", None, "x", "changed"),
        FieldChange("status", "ok", "error", "changed"),
    ]
    assert [c.path for c in important_first(diff)] == [
        "status",
        "results.services.redis",
        "server_issue",
        "results.stats.online",
        "results.stats.session",
    ]


def test_it_expands_the_remaining_fields_of_a_change_in_place(user_client: Client) -> None:
    source = make_source("us-east")
    now = timezone.now()
    record(source, payload(), now - timedelta(minutes=1))
    changes = {"results.stats.server.workers": [], "status": "error", "results.services.redis": False}
    changes.update({f"results.stats.{k}": 999 for k in ("online", "servers_count", "session")})
    changes.update(
        {
            f"results.stats.server.{k}": 1
            for k in ("cpus", "cpu_load", "active_connections", "wait_time", "timers", "worker_count")
        }
    )
    record(source, payload(**changes), now)
    html = user_client.get("/sources/us-east/changes/").content.decode()
    start = html.index('<li class="change">')
    newest = html[start : html.index('<li class="change">', start + 1)]
    paths = re.findall(r'data-path="([^"]+)"', newest)
    assert paths[:2] == ["status", "results.services.redis"]
    more = re.search(
        r'<details class="diff-more"[^>]*>\s*<summary>and (\d+) more fields?</summary>(.*?)</details>', newest, re.S
    )
    assert more, newest[:2000]
    assert int(more.group(1)) == len(paths) - 8 == len(re.findall(r'data-path="', more.group(2)))


def test_it_serves_the_changes_list_and_the_system_body_as_live_parts(
    user_client: Client, staff_client: Client
) -> None:
    source = make_source("us-east")
    record(source, payload(), timezone.now() - timedelta(minutes=1))
    first = user_client.get("/sources/us-east/changes/?part=list").json()
    assert first["newest"] == 1
    record(source, payload(status="error"), timezone.now())
    second = user_client.get("/sources/us-east/changes/?part=list").json()
    assert second["newest"] == 2
    assert second["html"].count('<li class="change">') == 2
    assert (
        'data-live-url="/sources/us-east/changes/?part=list"'
        in user_client.get("/sources/us-east/changes/").content.decode()
    )

    body = staff_client.get("/system/?part=1").json()
    assert 'data-stat="failing"' in body["html"]
    assert 'href="/?status=unreachable"' in body["html"]
    reader = logged_in(Client(), "reader")
    assert reader.get("/system/?part=1").status_code == 403


def test_it_writes_a_field_row_per_kind_with_every_part_escaped() -> None:
    from dashboard.diff_html import field_rows

    html = field_rows(
        [
            FieldChange('results.<b>"x"', "<script>1</script>", "a&b", "changed"),
            FieldChange("results.new", None, {"k": "<i>"}, "added"),
            FieldChange("results.gone", 7, None, "removed"),
        ]
    )
    rows = html.split("\n")
    assert len(rows) == 3
    assert rows[0].startswith('<li class="diff-changed" data-path="results.&lt;b&gt;&quot;x&quot;">')
    assert '<code class="diff-path">results.&lt;b&gt;&quot;x&quot;</code>' in rows[0]
    assert '<span class="diff-old">&quot;&lt;script&gt;1&lt;/script&gt;&quot;</span>' in rows[0]
    assert '<span class="diff-new">&quot;a&amp;b&quot;</span>' in rows[0]
    for raw in ("<script>", "<i>", "<b>"):
        assert raw not in html
    assert rows[1].startswith('<li class="diff-added" data-path="results.new">')
    assert '<span class="diff-new">{&quot;k&quot;:&quot;&lt;i&gt;&quot;}</span>' in rows[1]
    assert rows[1].endswith('<span class="muted">added</span></li>')
    assert "diff-old" not in rows[1]
    assert '<span class="diff-old">7</span> <span class="muted">removed</span>' in rows[2]
    assert "diff-new" not in rows[2]
