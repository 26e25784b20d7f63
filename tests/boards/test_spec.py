"""The board document format: what it accepts, and the path each refusal names."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from boards import spec
from tests.factories import board_document


def problems_of(document: Any) -> dict[str, list[str]]:
    with pytest.raises(spec.SpecError) as caught:
        spec.validate(document)
    return caught.value.problems


def test_it_fills_in_the_defaults_of_a_minimal_document() -> None:
    doc = spec.validate({"format": spec.FORMAT, "title": "Empty", "panels": []})
    assert (doc["time_range"], doc["refresh"], doc["variables"]) == ("24h", 0, [])


def test_it_accepts_every_panel_type() -> None:
    panels = [
        {
            "id": "a",
            "type": "timeseries",
            "x": 0,
            "y": 0,
            "w": 6,
            "h": 4,
            "sources": ["region:$region"],
            "metrics": ["cpu_load", "wait_time"],
            "style": "area",
            "band": True,
        },
        {"id": "b", "type": "stat", "x": 6, "y": 0, "w": 3, "h": 2, "sources": ["us-east"], "metric": "cpu_load"},
        {"id": "c", "type": "table", "x": 9, "y": 0, "w": 3, "h": 2, "sources": ["*"], "metrics": ["online"]},
        {"id": "d", "type": "bar", "x": 0, "y": 4, "w": 4, "h": 3, "sources": ["tag:prod"], "metric": "cpu_load"},
        {"id": "e", "type": "status", "x": 4, "y": 4, "w": 4, "h": 3, "sources": ["*"]},
        {"id": "f", "type": "note", "x": 8, "y": 4, "w": 4, "h": 3, "text": "# Runbook"},
    ]
    doc = board_document(panels=panels, variables=[{"name": "region", "kind": "region", "default": "eu-west"}])
    assert spec.validate(doc)["panels"] == panels


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda d: d.update(format="grafana"), "format", "must be"),
        (lambda d: d["panels"][0].update(metrics=["cpu load"]), "panels[0].metrics[0]", "not allowed"),
        (lambda d: d["panels"][0].update(type="pie"), "panels[0].type", "must be one of"),
        (lambda d: d["panels"][0].update(colour="red"), "panels[0]", "unknown field"),
        (lambda d: d["panels"][0].update(x=10, w=6), "panels[0].w", "x + w must be at most 12"),
        (lambda d: d["panels"][0].update(sources=["region:$nope"]), "panels[0].sources[0]", "no variable named $nope"),
        (lambda d: d["panels"].append(copy.deepcopy(d["panels"][0])), "panels[1].id", "used by another panel"),
        (lambda d: d.update(time_range="2y"), "time_range", "must be one of"),
        (lambda d: d["panels"][0].pop("sources"), "panels[0].sources", "required"),
        (lambda d: d.update(phone_order=["cpu", "gone"]), "phone_order[1]", "no panel with id 'gone'"),
        (lambda d: d.update(phone_order=["cpu", "cpu"]), "phone_order", "non-unique"),
    ],
)
def test_it_names_the_path_of_each_problem(change: Any, path: str, words: str) -> None:
    doc = board_document()
    change(doc)
    problems = problems_of(doc)
    assert path in problems, problems
    assert any(words in message for message in problems[path]), problems[path]


def test_it_refuses_what_is_not_a_document() -> None:
    assert "$" in problems_of(["not", "an", "object"])
    assert "format" in problems_of({"title": "x", "panels": []})


def test_it_keeps_a_phone_order_beside_the_grid_layout() -> None:
    second = {"id": "mem", "type": "stat", "x": 6, "y": 0, "w": 3, "h": 2, "sources": ["*"], "metric": "memory"}
    doc = board_document(phone_order=["mem", "cpu"])
    doc["panels"].append(second)
    checked = spec.validate(doc)
    assert checked["phone_order"] == ["mem", "cpu"]
    assert [(p["x"], p["y"]) for p in checked["panels"]] == [(0, 0), (6, 0)]  # the 12-column layout untouched
    assert "phone_order" not in spec.validate(board_document())  # absent: the grid's reading order
