"""The shipped Grafana dashboard and Prometheus alert rules (deploy/grafana, deploy/prometheus).

Their structure is what Grafana and Prometheus load; every metric an expression names is one the
project exposes (read from a real /metrics scrape and from the instruments), with labels it has;
``promtool`` checks and unit-tests the rules when it is installed (Debian package ``prometheus``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client
from django.utils import timezone
from prometheus_client.metrics import MetricWrapperBase

from alerts.models import AlertEvent, Delivery, NotificationChannel
from observability import instruments
from pollers.models import Source

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "devops-insights.json"
DOCS = ROOT / "docs" / "monitoring-assets.md"
TOKEN = "monitoring-assets-token"

# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"instance", "job"}
RULE_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
PANEL_TYPES = {"row", "stat", "timeseries", "table", "gauge", "bargauge", "text", "heatmap"}
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS |= {"inf", "nan"}
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"(?<![\w:])([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels and durations left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    text = re.sub(r"\{[^}]*\}", " ", text)  # matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables ($__rate_interval)
    names = set()
    for match in re.finditer(r"(?<![\w.$])([a-zA-Z_:][\w:]*)(?!\w)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if not call and name not in _KEYWORDS:
            names.add(name)
    return names


def used_labels(expr: str) -> dict[str, set[str]]:
    """metric -> label names its selector matchers use, and "" -> the grouping labels of the expression."""
    found: dict[str, set[str]] = {"": set()}
    for name, matchers in _SELECTOR.findall(re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)):
        found.setdefault(name, set()).update(_MATCHER.findall(matchers))
    for group in _GROUPING.findall(expr):
        found[""].update(label.strip() for label in group.split(",") if label.strip())
    return found


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def dashboard_expressions(document: dict[str, Any]) -> list[tuple[str, str]]:
    found = [(p["title"], t["expr"]) for p in document["panels"] for t in p.get("targets", [])]
    for variable in document["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            found.append((f"${variable['name']}", re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", query)))
    return found


def instrument_series() -> dict[str, set[str]]:
    """Series names of the instruments (counter -> _total, histogram -> _bucket/_sum/_count) with their labels."""
    series: dict[str, set[str]] = {}
    for value in vars(instruments).values():
        if isinstance(value, MetricWrapperBase):
            labels = set(value._labelnames)
            kind, name = value._type, value._name
            if kind == "counter":
                series[f"{name}_total"] = labels
            elif kind == "histogram":
                series.update({f"{name}_bucket": labels | {"le"}, f"{name}_sum": labels, f"{name}_count": labels})
            else:
                series[name] = labels
    return series


@pytest.fixture
def exposed(settings: Any, db: None) -> dict[str, set[str] | None]:
    """Every series name a real /metrics scrape shows, with its labels (None when no sample tells them)."""
    settings.METRICS_TOKEN = TOKEN
    source = Source.objects.create(slug="eu-west", name="EU West", url="http://127.0.0.1:9/status")
    Source.objects.filter(pk=source.pk).update(last_success_at=timezone.now())
    event = AlertEvent.objects.create(
        rule_name="r",
        source=source,
        kind="fired",
        severity="warning",
        condition="c",
        message="m",
        occurred_at=timezone.now(),
    )
    channel = NotificationChannel.objects.create(name="ops", kind="email", email_to="ops@example.com")
    Delivery.objects.create(event=event, channel=channel, reason=Delivery.Reason.FIRED)

    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    names: dict[str, set[str] | None] = {}
    for line in response.content.decode().splitlines():
        typed = re.match(r"# TYPE (\S+) (\S+)", line)
        if typed:
            name, kind = typed.groups()
            suffixes = ["_bucket", "_sum", "_count"] if kind == "histogram" else [""]
            for suffix in suffixes:
                names.setdefault(name + suffix, None)
            continue
        sample = re.match(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? ", line)
        if sample:
            labels = set(re.findall(r'(\w+)="', sample.group(2) or ""))
            names[sample.group(1)] = (names.get(sample.group(1)) or set()) | labels
    for name, labels in instrument_series().items():
        assert name in names, f"{name} is an instrument but not in the scrape"
        names[name] = labels
    assert names["devops_insights_source_circuit_state"] == {"source", "state"}  # learnt from the samples
    return names


def expression_problems(where: str, expr: str, exposed: dict[str, set[str] | None]) -> list[str]:
    problems = []
    names = metric_names(expr)
    if not names:
        problems.append(f"{where}: selects no metric")
    for name in sorted(names - set(exposed)):
        problems.append(f"{where}: {name} is not exposed by the project")
    labels = used_labels(expr)
    known_in_expr: set[str] = set(TARGET_LABELS)
    for name in names & set(exposed):
        known = exposed[name]
        if known is None:
            known_in_expr.update(labels.get(name, set()))  # no sample to tell its labels: take them on trust
            continue
        known_in_expr |= known
        for label in sorted(labels.get(name, set()) - known - TARGET_LABELS):
            problems.append(f"{where}: {name} has no label {label!r}")
    for label in sorted(labels[""] - known_in_expr):
        problems.append(f"{where}: groups by {label!r}, which none of its metrics has")
    return problems


def test_the_rules_file_has_the_prometheus_rules_structure() -> None:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    assert set(document) == {"groups"}
    group_names = [group["name"] for group in document["groups"]]
    assert len(group_names) == len(set(group_names))
    alerts = [rule["alert"] for rule in rules()]
    assert len(alerts) == len(set(alerts)), "alert names are unique"
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit"}
        assert group["rules"], group["name"]
    for rule in rules():
        assert set(rule) <= RULE_KEYS, rule["alert"]
        assert re.fullmatch(r"DevOpsInsights[A-Z]\w+", rule["alert"])
        assert isinstance(rule["expr"], str)
        assert rule["expr"].strip()
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_it_alerts_on_what_the_issue_asks_for() -> None:
    exprs = " ".join(rule["expr"] for rule in rules())
    for metric in (
        "devops_insights_polls_total",  # poll failure ratio
        "devops_insights_source_last_success_timestamp_seconds",  # stale sources
        "devops_insights_notification_oldest_undelivered_timestamp_seconds",  # undelivered notifications
        "devops_insights_notification_deliveries",
        "devops_insights_websocket_connections",
    ):
        assert metric in exprs, metric


def test_every_metric_and_label_the_rules_use_is_exposed(exposed: dict[str, set[str] | None]) -> None:
    problems = [p for rule in rules() for p in expression_problems(rule["alert"], rule["expr"], exposed)]
    assert problems == []


def test_every_metric_and_label_the_dashboard_uses_is_exposed(exposed: dict[str, set[str] | None]) -> None:
    problems = [
        p for title, expr in dashboard_expressions(dashboard()) for p in expression_problems(title, expr, exposed)
    ]
    assert problems == []


def test_the_name_check_catches_a_misspelt_metric_and_a_missing_label(exposed: dict[str, set[str] | None]) -> None:
    assert expression_problems(
        "x", 'sum by (source) (rate(devops_insights_polls_totl{outcome="failed"}[5m]))', exposed
    ) == [
        "x: devops_insights_polls_totl is not exposed by the project",
        "x: groups by 'source', which none of its metrics has",
    ]
    assert expression_problems("y", 'devops_insights_pollers_alive{source="a"} == 0', exposed) == [
        "y: devops_insights_pollers_alive has no label 'source'"
    ]
    assert expression_problems("z", "sum by (kind) (rate(devops_insights_websocket_connects_total[5m]))", exposed) == [
        "z: groups by 'kind', which none of its metrics has"
    ]
    assert expression_problems("w", "time() - 3600 > 0", exposed) == ["w: selects no metric"]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('sum by (source, le) (rate(a_bucket{source=~"$source"}[$__rate_interval]))', {"a_bucket"}),
        ("time() - max(b) > 3 * 3600", {"b"}),
        ("c == 0 and sum(d offset 30m) > 5 or vector(0)", {"c", "d"}),
        ('max(delta(e{status="failed"}[30m])) > 0', {"e"}),
        ("x / on (instance) group_left (source) y", {"x", "y"}),
    ],
)
def test_it_reads_metric_names_from_promql(expr: str, expected: set[str]) -> None:
    assert metric_names(expr) == expected


def test_the_dashboard_has_the_grafana_structure() -> None:
    document = dashboard()
    assert document["uid"] == "devops-insights"
    assert document["title"]
    assert isinstance(document["schemaVersion"], int)
    assert document["schemaVersion"] >= 36
    variables = {v["name"]: v for v in document["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in document["panels"]]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in document["panels"]:
        assert panel["type"] in PANEL_TYPES, panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells.get((x, y))}"
                cells[(x, y)] = panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip()
            assert target["datasource"]["uid"] == "${datasource}"


def test_the_dashboard_names_only_alerts_that_exist_and_nothing_outside_the_repository() -> None:
    text = DASHBOARD.read_text(encoding="utf-8")
    alerts = {rule["alert"] for rule in rules()}
    assert set(re.findall(r"DevOpsInsights[A-Z]\w+", text)) <= alerts
    assert "://" not in text
    assert "://" not in RULES.read_text(encoding="utf-8")


def test_the_docs_describe_every_alert() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert [alert for alert in (rule["alert"] for rule in rules()) if f"`{alert}`" not in docs] == []


@pytest.fixture
def promtool() -> str:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.skip("promtool is not installed (Debian package prometheus); the structure checks above still ran")
    return exe


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_promtool_unit_tests_fire_the_alerts_when_they_should(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "test", "rules", str(RULE_TESTS)], cwd=RULE_TESTS.parent, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_refuses_a_broken_rule(promtool: str, tmp_path: Path) -> None:
    broken = tmp_path / "alerts.yml"
    broken.write_text(RULES.read_text(encoding="utf-8").replace("> 0.5", "> > 0.5", 1), encoding="utf-8")
    result = subprocess.run([promtool, "check", "rules", str(broken)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
