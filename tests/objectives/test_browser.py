"""Objectives and reports in a real Chromium against the running product (the stack and browser fixtures of
tests/dashboard/test_browser.py): the objective page, the report on screen and as printed, and an anomaly
marker on the drill-down chart. Screenshots go to docs/images/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.browser_stack import Stack
from tests.dashboard.test_browser import browser, open_page, stack, wait_until_polled
from tests.paths import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "stack"]  # fixtures, reused
IMAGES = ROOT / "docs" / "images"

SETUP = """
from datetime import timedelta
from django.utils import timezone
from alerts.models import AlertEvent, AlertRule
from objectives.models import Objective
from pollers.models import Source
o = Objective.objects.create(name="Regions answer", target="99.5", window_days=30)
o.sources.set(Source.objects.all())
Objective.objects.create(name="Fast enough", kind="metric", metric="wait_time", operator="<", bound=150,
                         target="99", tag="demo")
rule = AlertRule.objects.create(name="unusual load", kind="anomaly", metric="cpu_load", anomaly_mode="seasonal")
hour = (timezone.now() - timedelta(minutes=30)).replace(minute=0, second=0, microsecond=0)
AlertEvent.objects.create(rule=rule, rule_name=rule.name, source=Source.objects.get(slug="us-east"), kind="fired",
    severity="warning", condition=rule.summary(), message="unusual load", occurred_at=timezone.now(),
    value={"metric": "cpu_load", "hour": hour.isoformat(), "value": 99.0, "seasonal": {"z": 8.2, "median": 40.0}})
"""


@pytest.fixture(scope="module")
def seeded(stack: Stack) -> Stack:
    """Two objectives and one recorded anomaly in the stack's database, once for the module."""
    stack.manage("shell", "-c", SETUP)
    return stack


@pytest.fixture
def page(browser: Any, seeded: Stack) -> Iterator[Any]:
    problems: list[str] = []
    opened = open_page(browser, seeded, problems)
    yield opened
    opened.context.close()
    assert problems == []


def test_it_shows_objectives_and_a_printable_report(page: Any, seeded: Stack) -> None:
    wait_until_polled(page, seeded)
    IMAGES.mkdir(parents=True, exist_ok=True)

    page.click("nav >> text=Objectives")
    page.click("text=Regions answer")
    page.wait_for_selector("#burn-table")
    assert "%" in page.inner_text("#attainment")
    page.screenshot(path=str(IMAGES / "objective.png"), full_page=True)

    month = datetime.now(UTC).strftime("%Y-%m")
    page.goto(f"/reports/?team=default&month={month}")
    page.wait_for_selector("#report-summary")
    assert "polls" in page.inner_text("#report-summary")
    assert page.locator("#report-sources tbody tr").count() == 6
    page.screenshot(path=str(IMAGES / "report.png"), full_page=True)
    page.emulate_media(media="print")
    assert page.locator("nav.nav").is_hidden()  # the print CSS leaves navigation and buttons off the paper
    assert page.locator(".no-print").is_hidden()
    page.screenshot(path=str(IMAGES / "report-print.png"), full_page=True)


def test_it_marks_an_anomalous_hour_on_the_drill_down_chart(page: Any) -> None:
    page.goto("/sources/us-east/")
    page.wait_for_selector('.chart[data-metric="cpu_load"][data-anomalies="1"]', state="attached")
    page.goto("/sources/us-east/changes/")
    assert "unusual load" in page.inner_text("#anomalies")
