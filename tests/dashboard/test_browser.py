"""The dashboards in a real Chromium against a running product: login, live cards, charts, the paused badge.

The stack runs with production settings (DEBUG off, hashed static files, the CSP), so a page that needed
an inline script or a CDN would break here. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_stack import ARTIFACTS, PAGE_TIMEOUT_MS, PASSWORD, USERNAME, Stack, chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]
REGIONS = ("us-east", "eu-west", "eu-central", "us-west", "sa-east", "ap-southeast")


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("browser-stack"), redis_url)
    try:
        running.prepare()
        running.feed("seed", str(running.simulator_port))
        running.start_simulator_and_poller()
        running.start_web()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def open_page(browser: Any, stack: Stack, problems: list[str], **context: Any) -> Any:
    viewport = context.pop("viewport", {"width": 1280, "height": 900})
    ctx = browser.new_context(base_url=stack.url, viewport=viewport, **context)
    page = ctx.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

    def on_console(message: Any) -> None:
        # A CSP violation or a failing script shows here; a refused WebSocket while the server is down does too.
        if message.type == "error" and "WebSocket" not in message.text and "net::ERR_CONNECTION_" not in message.text:
            problems.append(f"console: {message.text}")

    page.on("console", on_console)
    page.goto("/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(stack.url + "/")
    return page


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    problems: list[str] = []
    opened = open_page(browser, stack, problems)
    yield opened
    opened.context.close()
    assert problems == []


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


CARD_STATES = """() => [...document.querySelectorAll('.card[data-source]')].map(c => ({
    source: c.dataset.source, status: c.dataset.status, seen: c.dataset.lastSeen,
    reason: (c.querySelector('[data-role="reason"]') || {}).textContent || ''}))"""


def wait_until_polled(page: Any, stack: Stack | None = None) -> None:
    """Every card shows polled data: the poller has reached each region of the simulator.

    On a timeout the failure says what each card showed and, given the stack, what its processes logged and
    where each of their threads is: a card left stale or unreachable has a cause in one of them.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_function(
            """() => { const cards = [...document.querySelectorAll('.card[data-source]')];
                       const polled = c => !['stale', 'unreachable'].includes(c.dataset.status);
                       return cards.length === 6 && cards.every(polled); }""",
            timeout=30000,
        )
    except PlaywrightTimeoutError:
        cards = page.evaluate(CARD_STATES)
        logs = f"{stack.log_tails()}\n{stack.dump_stacks()}" if stack is not None else "(no stack given)"
        now = page.evaluate("new Date().toISOString()")
        raise AssertionError(f"cards not all polled at {now}: {cards}\n{logs}") from None


def test_it_logs_in_and_shows_the_six_regions_with_numbers(page: Any, browser: Any, stack: Stack) -> None:
    cards = page.locator(".card[data-source]")
    assert cards.count() == 6
    assert sorted(cards.evaluate_all("els => els.map(e => e.dataset.source)")) == sorted(REGIONS)
    wait_until_polled(page, stack)
    for region in REGIONS:
        card = page.locator(f'.card[data-source="{region}"]')
        assert re.fullmatch(r"\d+(\.\d)?", card.locator('[data-metric="cpu_load"] .num-value').inner_text())
        assert re.fullmatch(r"[\d,]+", card.locator('[data-metric="active_connections"] .num-value').inner_text())
        assert re.fullmatch(r"[\d.,]+", card.locator('[data-metric="wait_time"] .num-value').inner_text())
        assert card.locator(".svc").count() == 2
    # Sparklines are drawn from the last hour of series() buckets.
    page.wait_for_function("() => document.querySelectorAll('.spark[data-points]').length === 12")
    assert int(page.locator('.card[data-source="us-east"] [data-spark="cpu_load"]').get_attribute("data-points")) > 10
    shoot(page, "overview-light.png")

    problems: list[str] = []
    dark = open_page(browser, stack, problems, color_scheme="dark")
    dark.wait_for_function("() => document.querySelectorAll('.spark[data-points]').length === 12")
    assert dark.evaluate("getComputedStyle(document.body).backgroundColor") != page.evaluate(
        "getComputedStyle(document.body).backgroundColor"
    )
    shoot(dark, "overview-dark.png")
    dark.context.close()

    phone = open_page(browser, stack, problems, viewport={"width": 375, "height": 800}, is_mobile=True)
    phone.wait_for_function("() => document.querySelectorAll('.spark[data-points]').length === 12")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    shoot(phone, "overview-375.png")
    phone.context.close()
    assert problems == []


def test_it_is_keyboard_reachable(page: Any) -> None:
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    focused = set()
    # The navigation, the team switcher and each card's links come first; stop once both are reached.
    for _ in range(200):
        page.keyboard.press("Tab")
        focused.add(page.evaluate("document.activeElement.getAttribute('href') || document.activeElement.name || ''"))
        if {"/sources/us-east/", "status"} <= focused:
            break
    assert "/sources/us-east/" in focused
    assert "status" in focused  # the filter controls


def test_it_filters_in_place_and_keeps_the_filter_in_the_address(page: Any, stack: Stack) -> None:
    wait_until_polled(page, stack)
    page.evaluate("window.__samePage = true")
    page.select_option("select[name=status]", "ok")
    ok = int(page.locator(".summary [data-count-for='ok'] .chip-n").inner_text())
    assert page.locator(".card[data-source]:visible").count() == ok
    assert page.locator('.card[data-source]:visible:not([data-status="ok"])').count() == 0
    assert "status=ok" in page.url
    page.select_option("select[name=sort]", "name")
    names = page.locator(".card[data-source]").evaluate_all("els => els.map(e => e.dataset.name)")
    assert names == sorted(names)  # one card per region group, groups in name order
    assert "sort=name" in page.url
    assert page.evaluate("window.__samePage") is True
    page.reload()
    assert page.locator("select[name=status]").input_value() == "ok"


def test_it_updates_a_card_in_place_when_the_simulator_changes_a_region(page: Any, stack: Stack) -> None:
    page.wait_for_selector('body[data-live="open"]')
    wait_until_polled(page, stack)
    page.evaluate("window.__samePage = true")
    card = page.locator('.card[data-source="eu-central"]')
    # Whatever the region shows now, force the opposite: down if it is up, up if it is down.
    was_error = card.get_attribute("data-status") == "error"
    stack.control("faults/eu-central", {"kind": "healthy" if was_error else "degraded"})
    try:
        page.wait_for_function(
            """(wasError) => {
                 const card = document.querySelector('.card[data-source="eu-central"]');
                 return (card.dataset.status === 'error') !== wasError; }""",
            arg=was_error,
            timeout=15000,
        )
        if not was_error:
            assert card.locator(".svc-down").count() == 1
            assert "source reports status" in card.inner_text()
        assert page.evaluate("window.__samePage") is True  # updated in place, no reload
        count = page.locator(".summary [data-count-for='error'] .chip-n").inner_text()
        assert int(count) == page.locator('.card[data-status="error"]').count()
    finally:
        stack.control("reset", {})


def test_it_draws_points_on_the_drill_down_chart(page: Any) -> None:
    page.goto("/sources/us-west/")
    page.wait_for_selector('body[data-charts="ready"]')
    page.wait_for_selector('body[data-live="open"]')
    points = page.evaluate("window.DI.charts.cpu_load.data[0].length")
    assert points > 10
    assert page.locator('.chart[data-metric="cpu_load"] canvas').count() == 1
    assert page.locator("table.table tbody tr").count() >= 2  # the workers table, one row per [name, stats] pair
    page.click('.seg[data-range="24h"]')
    page.wait_for_function("() => document.getElementById('chart-status').textContent.includes('last 24h')")
    shoot(page, "drilldown-light.png")
    page.click("details.raw summary")
    assert '"cpu_load"' in page.locator(".raw-json").inner_text()

    page.set_viewport_size({"width": 375, "height": 800})
    page.emulate_media(color_scheme="dark")
    page.reload()
    page.wait_for_selector('body[data-charts="ready"]')
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shoot(page, "drilldown-dark-375.png")


def test_it_shows_the_running_poller_on_the_system_page(page: Any) -> None:
    page.goto("/system/")
    heading = page.locator("#h-pollers").inner_text()
    assert re.search(r"\b1 alive\b", heading), heading
    assert page.locator("tr[data-process] .pill-ok").count() == 1
    assert page.locator('[data-stat="latest_count"]').inner_text() == "6"
    # The stack runs with the default REALTIME_CHANNEL_LAYER (pubsub).
    assert "RedisPubSubChannelLayer" in page.locator("#h-backends + .kv").inner_text()
    shoot(page, "system-light.png")


def test_it_shows_the_paused_badge_when_the_socket_drops_and_clears_it_on_reconnect(page: Any, stack: Stack) -> None:
    page.wait_for_selector('body[data-live="open"]')
    badge = page.locator("#live-badge")
    assert badge.inner_text() == "Live"

    stack.stop_web()
    try:
        page.wait_for_function(
            "() => document.getElementById('live-badge').textContent.startsWith('Live updates paused, reconnecting')",
            timeout=10000,
        )
        assert badge.is_visible()
        shoot(page, "overview-paused.png")
    finally:
        stack.start_web()
    page.wait_for_selector('body[data-live="open"]', timeout=30000)
    assert badge.inner_text() == "Live"
