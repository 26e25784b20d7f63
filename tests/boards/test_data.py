"""Panel data: every panel type from the real store, one store call per chart panel, rollups for long ranges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from accounts.models import Role
from boards.compare import compare
from boards.data import TimeRange, assemble, readable_sources, render_note
from boards.models import Annotation, Board
from metrics.lifecycle.retention import roll_up, rollup_store
from metrics.stores import get_store
from pollers.models import Source
from tests.factories import (
    add_member,
    board_document,
    default_team,
    make_source,
    make_team,
    make_user,
    payload,
    record_history,
)

pytestmark = pytest.mark.django_db
NOW = datetime.now(UTC).replace(microsecond=0)


def cpu(value: float, **more: Any) -> dict[str, Any]:
    return payload(**{"results.stats.server.cpu_load": value}, **more)


def seeded() -> tuple[Any, Any]:
    east, west = make_source("us-east", tags=["prod"]), make_source("eu-west")
    record_history(east, [(NOW - timedelta(minutes=50 - i * 10), cpu(10.0 + i)) for i in range(5)])
    record_history(west, [(NOW - timedelta(minutes=45 - i * 10), cpu(40.0 + i, status="error")) for i in range(5)])
    return east, west


PANELS = [
    {
        "id": "ts",
        "type": "timeseries",
        "x": 0,
        "y": 0,
        "w": 6,
        "h": 4,
        "sources": ["region:$region"],
        "metrics": ["cpu_load"],
        "band": True,
    },
    {"id": "st", "type": "stat", "x": 6, "y": 0, "w": 3, "h": 2, "sources": ["us-east"], "metric": "cpu_load"},
    {"id": "tb", "type": "table", "x": 9, "y": 0, "w": 3, "h": 2, "sources": ["*"], "metrics": ["cpu_load", "nope"]},
    {
        "id": "br",
        "type": "bar",
        "x": 0,
        "y": 4,
        "w": 4,
        "h": 3,
        "sources": ["tag:prod", "eu-west"],
        "metric": "cpu_load",
    },
    {"id": "sg", "type": "status", "x": 4, "y": 4, "w": 4, "h": 3, "sources": ["*"]},
    {"id": "nt", "type": "note", "x": 8, "y": 4, "w": 4, "h": 3, "text": "**Runbook** <script>alert(1)</script>"},
]


def test_it_assembles_every_panel_type_with_one_store_call_per_chart_and_one_for_latest() -> None:
    seeded()
    doc = board_document(panels=PANELS, variables=[{"name": "region", "kind": "region", "default": "us-east"}])
    window = TimeRange.parse("6h", None, None, NOW + timedelta(seconds=1))
    data = assemble(doc, readable_sources(make_user("root", superuser=True)), {}, window, get_store(), NOW)
    panels = data["panels"]
    assert data["variables"] == {"values": {"region": "us-east"}, "options": {"region": ["eu-west", "us-east"]}}
    assert panels["ts"]["tier"] == "raw"
    assert panels["ts"]["sources"] == ["us-east"]
    [series] = panels["ts"]["series"]
    assert [v for v in series["avg"] if v is not None] == [10, 11, 12, 13, 14]
    assert series["min"] is not None
    assert len(series["max"]) == len(panels["ts"]["t"])
    assert (panels["st"]["value"], panels["st"]["delta"]) == (14, 4)
    assert panels["tb"]["rows"] == [
        {"source": "eu-west", "values": [44, None]},
        {"source": "us-east", "values": [14, None]},
    ]
    assert panels["br"]["bars"] == [{"source": "us-east", "value": 14}, {"source": "eu-west", "value": 44}]
    states = {c["source"]: c["state"] for c in panels["sg"]["cells"]}
    assert states == {"eu-west": "pending", "us-east": "pending"}  # never polled (pollers.health: waiting)
    assert "<strong>Runbook</strong>" in panels["nt"]["html"]
    assert "<script" not in panels["nt"]["html"]
    assert data["store_calls"] == 3

    picked = assemble(
        doc, readable_sources(make_user("r2", superuser=True)), {"region": "eu-west"}, window, get_store(), NOW
    )
    assert picked["panels"]["ts"]["sources"] == ["eu-west"]
    unknown = assemble(
        doc, readable_sources(make_user("r3", superuser=True)), {"region": "mars"}, window, get_store(), NOW
    )
    assert unknown["panels"]["ts"]["sources"] == ["us-east"]  # not an option: the default


def test_it_reads_a_90_day_panel_from_day_rollups_not_raw_history() -> None:
    east = make_source("us-east")
    old = (NOW - timedelta(days=60)).replace(hour=12, minute=0, second=0)
    record_history(east, [(old + timedelta(minutes=i), cpu(float(i))) for i in range(3)])
    roll_up(rollup_store(get_store()), "us-east")
    get_store().prune("us-east", NOW - timedelta(days=1))  # raw history of that day is gone, the rollups stay
    doc = board_document(panels=[PANELS[0] | {"sources": ["*"]}])
    window = TimeRange.parse("90d", None, None, NOW)
    data = assemble(doc, readable_sources(make_user("root", superuser=True)), {}, window, get_store(), NOW)
    panel = data["panels"]["ts"]
    assert panel["tier"] == "1d"
    assert panel["bucket"] % 86400 == 0
    assert [v for v in panel["series"][0]["avg"] if v is not None] == [1]


def test_it_reads_each_panel_of_a_30_day_board_in_one_mongodb_command(mongodb_url: str) -> None:
    """The issue's "<= 1 store round trip per panel" on the MongoDB store, counted by a pymongo command listener."""
    from tests.mongo_store import CommandLog, mongo_store

    sources = [make_source("us-east"), make_source("eu-west")]
    # Inside the store's 7-day history TTL; midnight: the three samples share a bucket of any round width.
    old = (NOW - timedelta(days=5)).replace(hour=0, minute=0, second=0)
    log = CommandLog()
    with mongo_store(mongodb_url, log) as store:
        for source in sources:
            for i in range(3):
                store.record(source.spec(), cpu(float(i)), old + timedelta(minutes=10 * i))
            roll_up(rollup_store(store), source.slug)
            # Not rolled up yet, after 5 quiet days: the newest entry before the window says there is no gap.
            store.record(source.spec(), cpu(50.0), NOW - timedelta(minutes=2))
        panels = [PANELS[0] | {"id": f"ts{i}", "y": 4 * i, "sources": ["*"]} for i in range(3)]
        window = TimeRange.parse("30d", None, None, NOW)
        log.names.clear()
        data = assemble(
            board_document(panels=panels), readable_sources(make_user("root", superuser=True)), {}, window, store, NOW
        )
        read = list(log.names)  # before the store's database is dropped
    assert read == ["aggregate"] * 3  # rollups and the newest raw samples together, per panel
    assert data["store_calls"] == 3
    for panel in data["panels"].values():
        assert panel["tier"] == "1h"
        assert [[v for v in series["avg"] if v is not None] for series in panel["series"]] == [[1, 50], [1, 50]]


def test_it_shows_only_the_sources_and_markers_of_readable_teams() -> None:
    blue, red = make_team("blue"), make_team("red")
    east, west = make_source("us-east", team=blue), make_source("eu-west", team=red)
    Annotation.objects.create(team=blue, source=east, at=NOW - timedelta(minutes=5), text="deploy v2")
    Annotation.objects.create(team=blue, source=None, at=NOW - timedelta(minutes=4), text="freeze")
    Annotation.objects.create(team=red, source=west, at=NOW - timedelta(minutes=3), text="red deploy")
    viewer = make_user("v")
    add_member(viewer, blue, Role.VIEWER)
    window = TimeRange.parse("1h", None, None, NOW)
    data = assemble(board_document(), readable_sources(viewer), {}, window, get_store(), NOW)
    assert data["panels"]["cpu"]["sources"] == ["us-east"]
    assert [a["text"] for a in data["annotations"]] == ["deploy v2", "freeze"]


def test_it_keeps_the_old_teams_markers_off_a_source_moved_to_another_team() -> None:
    # A marker follows its source's id: once us-east moved from blue to red, blue's markers on it (their
    # text, who made them) showed on every red chart of us-east.
    blue, red = make_team("blue"), make_team("red")
    east = make_source("us-east", team=blue)
    Annotation.objects.create(team=blue, source=east, at=NOW - timedelta(minutes=5), text="blue deploy")
    east.team = red
    east.save()
    Annotation.objects.create(team=red, source=east, at=NOW - timedelta(minutes=4), text="red deploy")
    viewer = make_user("v")
    add_member(viewer, red, Role.VIEWER)
    window = TimeRange.parse("1h", None, None, NOW)
    data = assemble(board_document(), readable_sources(viewer), {}, window, get_store(), NOW)
    assert data["panels"]["cpu"]["sources"] == ["us-east"]
    assert [a["text"] for a in data["annotations"]] == ["red deploy"]
    east.team = blue
    east.save()
    assert list(Annotation.objects.covering([east.pk], window.start, window.end).values_list("text", flat=True)) == [
        "blue deploy"
    ]


def test_it_ranks_regions_by_their_distance_from_the_median_of_the_others() -> None:
    levels = {"us-east": 10.0, "eu-west": 30.0, "eu-central": 11.0, "us-west": 9.0}
    for slug, level in levels.items():
        record_history(make_source(slug), [(NOW - timedelta(minutes=30), cpu(level))])
    window = TimeRange.parse("1h", None, None, NOW)
    result = compare("cpu_load", readable_sources(make_user("root", superuser=True)), window, get_store())
    assert result["ranking"][0] == "eu-west"
    west = next(r for r in result["regions"] if r["region"] == "eu-west")
    assert west["latest_deviation"] == 200  # (30 - median(10, 11, 9)) / 10
    east = next(r for r in result["regions"] if r["region"] == "us-east")
    assert east["latest_deviation"] == pytest.approx(-9.091, abs=0.01)  # (10 - 11) / 11


def test_it_compares_more_regions_than_one_store_call_takes() -> None:
    # series_many takes at most 200 series: a viewer who could read 201 sources got a 500 from the comparison.
    team = default_team()
    Source.objects.bulk_create(
        Source(slug=f"r{index:03d}", name=f"R{index}", url="http://127.0.0.1:9/", region=f"r{index:03d}", team=team)
        for index in range(201)
    )
    record_history(Source.objects.get(slug="r200"), [(NOW - timedelta(minutes=30), cpu(42.0))])
    window = TimeRange.parse("1h", None, None, NOW)
    result = compare("cpu_load", readable_sources(make_user("root", superuser=True)), window, get_store())
    assert len(result["regions"]) == 201
    assert next(r for r in result["regions"] if r["region"] == "r200")["latest"] == 42


@pytest.mark.parametrize(
    "text",
    ['<img src=x onerror="alert(1)">', "[click](javascript:alert(1))", "<iframe src=//evil></iframe>"],
)
def test_it_sanitises_a_markdown_note(text: str) -> None:
    html = render_note(text)
    assert "<img" not in html
    assert 'href="javascript' not in html
    assert "<iframe" not in html


def test_it_charts_at_most_64_series_when_a_wildcard_names_many_sources(client: Client) -> None:
    # 15 sources x 16 metrics through "*" is 240 series: the store refuses more than 200 in one call, so the
    # board's data answered 500 for every viewer once the team had grown past 12 sources.
    blue = make_team("blue")
    viewer = make_user("vera")
    add_member(viewer, blue, Role.VIEWER)
    for index in range(15):
        make_source(f"s{index:02d}", team=blue)
    metrics = [f"m{index}" for index in range(16)]
    panel = {"id": "wide", "type": "timeseries", "x": 0, "y": 0, "w": 6, "h": 4, "sources": ["*"], "metrics": metrics}
    Board.create_from(board_document("Wide", panels=[panel]), blue, viewer)
    client.force_login(viewer)
    answer = client.get("/api/v1/boards/wide/data?range=1h")
    assert answer.status_code == 200, answer.content
    entry = answer.json()["panels"]["wide"]
    assert entry["sources"] == ["s00", "s01", "s02", "s03"]  # 4 sources x 16 metrics = 64 series
    assert len(entry["series"]) == 64
    assert entry["omitted_sources"] == 11
