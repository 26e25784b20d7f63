"""The sections added to the files: maintenance windows, objectives (and the burn-rate rules naming them),
boards (the boards app's own document)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from alerts.models import AlertRule, Silence
from boards.models import Board
from objectives.models import Objective
from provisioning.apply import apply_files
from provisioning.export import export_files
from provisioning.plan import make_plan
from statuspages.models import Component, MaintenanceWindow, StatusPage
from tests.factories import board_document, make_board, make_objective, make_source, make_team
from tests.provisioning.support import problems, text

pytestmark = pytest.mark.django_db


def _page() -> Component:
    blue = make_team("blue")
    source = make_source("us-east", team=blue)
    page = StatusPage.objects.create(team=blue, slug="blue-status", title="Blue")
    component = Component.objects.create(page=page, name="API")
    component.sources.set([source])
    return component


def test_it_plans_a_maintenance_window_field_by_field_and_its_silences_follow_it() -> None:
    _page()
    window = {
        "page": "blue-status",
        "title": "Database upgrade",
        "components": ["API"],
        "starts_at": "2030-02-01T22:00:00Z",
        "ends_at": "2030-02-02T01:30:00+00:00",
    }
    files = {"m.yaml": text({"maintenance_windows": [window]})}
    plan = apply_files(files)
    assert [(c.action, c.label) for c in plan.changes] == [("create", "blue-status/Database upgrade")]
    stored = MaintenanceWindow.objects.get()
    silence = stored.silences.get()
    assert (silence.source.slug, silence.ends_at) == ("us-east", datetime(2030, 2, 2, 1, 30, tzinfo=UTC))
    assert not make_plan(files).has_changes
    assert "ends_at: '2030-02-02T01:30:00Z'" in export_files()["maintenance_windows.yaml"]

    moved = {"m.yaml": text({"maintenance_windows": [{**window, "ends_at": "2030-02-02T03:00:00Z"}]})}
    plan = make_plan(moved)
    assert '    ends_at: "2030-02-02T01:30:00Z" -> "2030-02-02T03:00:00Z"' in plan.render()
    apply_files(moved)
    assert stored.silences.get().ends_at == datetime(2030, 2, 2, 3, tzinfo=UTC)
    # The window's silences are its own, never the silences section's: not exported, never pruned by it.
    assert export_files()["silences.yaml"].endswith("silences: []\n")
    apply_files({"s.yaml": text({"silences": []})}, prune=True)
    assert Silence.objects.count() == 1


def test_it_prunes_upcoming_windows_and_keeps_ended_ones_as_the_pages_history() -> None:
    component = _page()
    now = timezone.now()
    for title, start in (("ended", now - timedelta(days=2)), ("upcoming", now + timedelta(days=2))):
        made = MaintenanceWindow.objects.create(
            page=component.page, title=title, starts_at=start, ends_at=start + timedelta(hours=1)
        )
        made.components.set([component])
    files = {
        "m.yaml": text(
            {"status_pages": [{"slug": "blue-status", "team": "blue", "title": "Blue"}], "maintenance_windows": []}
        )
    }
    plan = make_plan(files, prune=True)
    assert [(c.action, c.label) for c in plan.changes] == [("delete", "blue-status/upcoming")]
    apply_files(files, prune=True)
    assert list(MaintenanceWindow.objects.values_list("title", flat=True)) == ["ended"]


def test_it_names_a_window_component_that_is_not_on_the_page() -> None:
    _page()
    window = {
        "page": "blue-status",
        "title": "T",
        "components": ["Web"],
        "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2029-01-01T00:00:00Z",
    }
    assert problems({"m.yaml": text({"maintenance_windows": [window]})}) == [
        "m.yaml:5: maintenance_windows[0].components[0]: no component 'Web' on the page 'blue-status' "
        "(neither in the files nor stored)"
    ]


def test_it_refers_burn_rate_rules_to_objectives_by_name_within_their_team() -> None:
    make_source("us-east", team=make_team("blue"))
    objective = {"team": "blue", "name": "api availability", "sources": ["us-east"], "target": 99.5}
    rule = {
        "team": "blue",
        "name": "budget burning",
        "kind": "burn_rate",
        "objective": "api availability",
        "burn_conditions": [["1h", "5m", 14.4, "page"]],
    }
    apply_files({"o.yaml": text({"objectives": [objective], "alert_rules": [rule]})})
    stored = AlertRule.objects.get(name="budget burning")
    assert stored.objective == Objective.objects.get(name="api availability", team__slug="blue")
    assert stored.burn_pairs()[0].long_window == "1h"
    assert "target: 99.5" in export_files()["objectives.yaml"]

    elsewhere = {**rule, "team": "default", "name": "other"}
    wrong_kind = {
        "team": "blue",
        "name": "cpu",
        "metric": "cpu_load",
        "operator": ">",
        "threshold": 1,
        "objective": "api availability",
    }
    bad_pair = {**rule, "name": "bad pair", "burn_conditions": [["5m", "1h", 2]]}
    assert problems({"r.yaml": text({"alert_rules": [elsewhere, wrong_kind, bad_pair]})}) == [
        "r.yaml:5: alert_rules[0].objective: no objective 'api availability' in the team 'default' "
        "(neither in the files nor stored)",
        "r.yaml:16: alert_rules[1].objective: not used by a metric rule (it takes: metric, operator, threshold)",
        "r.yaml:21: alert_rules[2].burn_conditions: The short window 1h must be shorter than the long one 5m.",
    ]


def test_it_refuses_a_burn_rate_rule_naming_a_source_or_a_tag() -> None:
    # It watches its objective's sources whatever it names: the files took a source (which, deleted, took the rule
    # along) or a tag it ignored, where the Alerts page clears both.
    blue = make_team("blue")
    make_objective("api availability", team=blue, sources=[make_source("us-east", team=blue)])
    rule = {"team": "blue", "name": "budget burning", "kind": "burn_rate", "objective": "api availability"}
    sourced, tagged = {**rule, "source": "us-east"}, {**rule, "name": "tagged", "tag": "prod"}
    assert problems({"r.yaml": text({"alert_rules": [sourced, tagged]})}) == [
        "r.yaml:6: alert_rules[0].source: A burn-rate rule watches its objective's sources: it names no source.",
        "r.yaml:11: alert_rules[1].tag: A burn-rate rule watches its objective's sources: it names no tag.",
    ]
    assert not AlertRule.objects.exists()
    apply_files({"r.yaml": text({"alert_rules": [rule]})})
    assert AlertRule.objects.get().scope == "all"


def test_it_refuses_an_objective_naming_both_sources_and_a_tag_or_neither() -> None:
    # Both: the tag alone was judged, the chosen sources silently ignored; neither: an objective judging
    # nothing, "no data" for ever. The API refused both; the files took them.
    blue = make_team("blue")
    make_source("us-east", team=blue)
    both = {"team": "blue", "name": "both", "sources": ["us-east"], "tag": "prod"}
    neither = {"team": "blue", "name": "neither"}
    assert problems({"o.yaml": text({"objectives": [both, neither]})}) == [
        "o.yaml:6: objectives[0].tag: name either sources or a tag, not both (with a tag, the chosen sources are "
        "not judged)",
        "o.yaml:7: objectives[1].sources: name the sources covered or a tag (an objective of no source judges nothing)",
    ]
    # One stored so before (the admin took it) is left as it is while the files leave it unchanged.
    make_objective("neither", team=blue)
    assert not make_plan({"o.yaml": text({"objectives": [neither]})}).has_changes


def test_it_refuses_a_burn_rate_rule_on_an_objective_that_covers_no_source(setup_settings: Any) -> None:
    # The rule watches its objective's sources one by one: with none (a tag no source carries) it could never
    # fire, and the plan took it without a word.
    blue = make_team("blue")
    make_source("us-east", team=blue, tags=["canary"])
    make_objective("by tag", team=blue, tag="prod")  # stored so before (its sources lost the tag since)
    rule = {"team": "blue", "name": "budget burning", "kind": "burn_rate", "objective": "by tag"}
    typo = {"team": "blue", "name": "typo", "tag": "prdo"}
    assert problems({"r.yaml": text({"objectives": [typo], "alert_rules": [rule]})}) == [
        "r.yaml:4: objectives[0].tag: no source of its team has the tag 'prdo' (an objective of no source judges "
        "nothing)",
        "r.yaml:9: alert_rules[0].objective: the objective 'by tag' covers no source (no source of its team has "
        "the tag 'prod'): an enabled burn-rate rule on it could never fire",
    ]
    # A disabled rule may stay; a source the same files tag (of the team: another team's does not count) covers it.
    assert make_plan({"r.yaml": text({"alert_rules": [{**rule, "enabled": False}]})}).has_changes
    tagged = {"slug": "us-west", "team": "blue", "name": "West", "url": "http://127.0.0.1:9/w", "tags": ["prod"]}
    elsewhere = {**tagged, "slug": "red-api", "team": "red"}
    files = {"s.yaml": text({"teams": [{"slug": "red", "name": "Red"}], "sources": [elsewhere]})}
    assert [p.split(": ", 2)[1] for p in problems({**files, "r.yaml": text({"alert_rules": [rule]})})] == [
        "alert_rules[0].objective"
    ]
    files = {"s.yaml": text({"sources": [tagged]})}
    assert make_plan({**files, "r.yaml": text({"objectives": [{**typo, "tag": "prod"}], "alert_rules": [rule]})})


def test_it_takes_a_boards_export_as_an_item_and_writes_changes_as_new_versions() -> None:
    make_team("blue")
    exported = make_board("Blue waits", team=make_team("red"), slug="blue-waits").document()
    Board.objects.all().delete()
    # The board's Export JSON, as it is, is an item (YAML reads JSON); the team moves it.
    files = {"boards.yaml": "boards:\n  - " + json.dumps({**exported, "team": "blue"}) + "\n"}
    apply_files(files)
    board = Board.objects.get(slug="blue-waits")
    assert (board.team.slug, board.version, board.document()["panels"]) == ("blue", 1, exported["panels"])
    assert not make_plan(files).has_changes

    wider = [{**exported["panels"][0], "w": 12}]
    changed = {"boards.yaml": text({"boards": [{**exported, "team": "blue", "panels": wider}]})}
    assert [f.key for f in make_plan(changed).changes[0].fields] == ["panels"]
    apply_files(changed)
    board.refresh_from_db()
    assert (board.version, board.latest_version().note, board.document()["panels"]) == (
        2,
        "configuration as code",
        wider,
    )


def test_it_keeps_a_boards_phone_order_through_export_plan_and_apply() -> None:
    # The phone order came to the board document after this section: an Export JSON holding one was refused
    # as an unknown key, and export left it out, so a plan said "no changes" while an apply would drop it.
    panels = [{**board_document()["panels"][0], "id": one, "y": row} for row, one in enumerate(("cpu", "mem"))]
    board = make_board("Phone", slug="phone", panels=panels, phone_order=["mem", "cpu"])
    exported = board.document()
    assert exported["phone_order"] == ["mem", "cpu"]
    assert not make_plan({"b.yaml": "boards:\n  - " + json.dumps(exported) + "\n"}).has_changes
    assert "phone_order:\n      - mem\n      - cpu\n" in export_files()["boards.yaml"]

    reordered = {"b.yaml": text({"boards": [{**exported, "phone_order": ["cpu", "mem"]}]})}
    assert [(f.key, f.old, f.new) for f in make_plan(reordered).changes[0].fields] == [
        ("phone_order", ["mem", "cpu"], ["cpu", "mem"])
    ]
    apply_files(reordered)
    assert Board.objects.get(slug="phone").document()["phone_order"] == ["cpu", "mem"]

    # Absent is the reading order, as a board's own export writes it: no phone_order stored, none exported.
    apply_files({"b.yaml": text({"boards": [{k: v for k, v in exported.items() if k != "phone_order"}]})})
    assert "phone_order" not in Board.objects.get(slug="phone").document()
    assert "phone_order" not in export_files()["boards.yaml"]


def test_it_reports_a_boards_problems_with_the_boards_own_paths() -> None:
    outside = board_document("Outside", slug="outside")
    outside["panels"][0].update(x=8, w=6)
    no_text = board_document("No text", slug="no-text")
    no_text["panels"].append({"id": "note", "type": "note", "x": 0, "y": 4, "w": 2, "h": 2})
    assert problems({"b.yaml": text({"boards": [outside, no_text]})}) == [
        "b.yaml:13: boards[0].panels[0].w: x + w must be at most 12",  # the boards app's own rules
        "b.yaml:37: boards[1].panels[1].text: required",
    ]
    assert not Board.objects.exists()
