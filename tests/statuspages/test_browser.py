"""The public status page in a real Chromium against a running product (production settings, the CSP).

Light, dark, a 375 px phone, the keyboard, an incident timeline, a maintenance window and the refresh
without a reload. Screenshots land in docs/images/ (the documentation shows them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_stack import PAGE_TIMEOUT_MS, Stack, chromium
from tests.paths import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]
IMAGES = ROOT / "docs" / "images"


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("statuspage-stack"), redis_url)
    try:
        running.prepare()
        running.feed("seed", str(running.simulator_port))
        running.feed("statuspage")
        running.start_simulator_and_poller()
        running.start_web()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


class Visit:
    """One anonymous visitor's tab, collecting page errors and console errors (CSP violations show there)."""

    def __init__(self, browser: Any, stack: Stack, **context: Any) -> None:
        context.setdefault("viewport", {"width": 1100, "height": 900})
        self.context = browser.new_context(base_url=stack.url, **context)
        self.page = self.context.new_page()
        self.page.set_default_timeout(PAGE_TIMEOUT_MS)
        self.problems: list[str] = []
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on("console", lambda m: self.problems.append(f"console: {m.text}") if m.type == "error" else None)

    def open(self) -> Any:
        response = self.page.goto("/status/demo/")
        assert response.status == 200
        self.page.wait_for_selector(".sp-component")
        return self.page

    def close(self) -> None:
        self.context.close()
        assert self.problems == []


def shoot(page: Any, name: str, **options: Any) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / name), **options)


def test_it_shows_the_page_to_an_anonymous_visitor_in_light(browser: Any, stack: Stack) -> None:
    visit = Visit(browser, stack, color_scheme="light")
    page = visit.open()
    assert page.locator(".sp-component").count() == 6
    assert page.locator(".sp-component").first.locator(".sp-bar").count() == 90
    assert page.locator(".sp-bar-low").count() >= 6  # the bad days of the backfill
    assert page.locator(".sp-bar-high").count() >= 6
    overall = page.locator(".sp-overall")
    assert overall.inner_text().strip() == "Maintenance in progress"  # the simulator serves every region well
    assert overall.evaluate("e => getComputedStyle(e).color !== getComputedStyle(e).backgroundColor")
    south_america = page.locator(".sp-component", has_text="South America API")
    assert south_america.locator(".sp-state").inner_text().strip() == "Under maintenance"
    assert visit.context.cookies() == []  # no session, no CSRF cookie
    assert page.locator("a[href*='/admin/'], a[href*='/manage/'], input[name=csrfmiddlewaretoken]").count() == 0
    shoot(page, "status-page-light.png", full_page=True)
    visit.close()


def test_it_follows_the_dark_preference(browser: Any, stack: Stack) -> None:
    light = Visit(browser, stack, color_scheme="light")
    dark = Visit(browser, stack, color_scheme="dark")
    background = "getComputedStyle(document.body).backgroundColor"
    assert light.open().evaluate(background) != dark.open().evaluate(background)
    overall = dark.page.locator(".sp-overall")
    assert overall.evaluate("e => getComputedStyle(e).color !== getComputedStyle(e).backgroundColor")
    shoot(dark.page, "status-page-dark.png", full_page=True)
    light.close()
    dark.close()


def test_it_fits_a_375_px_phone(browser: Any, stack: Stack) -> None:
    visit = Visit(browser, stack, viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    page = visit.open()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    first = page.locator(".sp-component").first
    visible = first.locator(".sp-bars > li").evaluate_all("els => els.filter(e => e.offsetWidth > 0).length")
    assert visible == 30  # the last 30 days on a phone
    assert first.locator(".sp-bar").last.bounding_box()["width"] >= 5
    shoot(page, "status-page-mobile.png", full_page=True)
    visit.close()


def test_it_reaches_the_day_bars_by_keyboard_with_their_details(browser: Any, stack: Stack) -> None:
    visit = Visit(browser, stack)
    page = visit.open()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('sp-bar')"):
            break
    focused = page.evaluate_handle("document.activeElement")
    label = focused.get_attribute("aria-label")
    assert label is not None
    assert "% uptime" in label or "no data" in label
    tip = page.locator(".sp-bar:focus + .sp-tip")
    assert tip.is_visible()
    assert tip.inner_text().split()[0].isdigit()  # "29 Nov 2026 ..."
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('sp-bar')")
    visit.close()


def test_it_shows_an_incident_timeline_and_a_maintenance_window(browser: Any, stack: Stack) -> None:
    visit = Visit(browser, stack)
    page = visit.open()
    incident = page.locator(".sp-incidents-open .sp-incident").first
    assert "Elevated error rates in EU West" in incident.inner_text()
    assert incident.locator(".sp-timeline > li").count() == 3
    assert incident.locator(".sp-update-head strong").all_inner_texts() == ["Monitoring", "Identified", "Investigating"]
    assert incident.locator(".sp-prose strong").first.inner_text() == "elevated error rates"  # Markdown
    shoot(page.locator(".sp-incidents-open"), "status-page-incident.png")

    window = page.locator(".sp-maintenance-active")
    assert "Database upgrade in South America" in window.inner_text()
    assert window.locator("em").inner_text() == "slower"
    scheduled = page.locator("article.sp-maintenance", has_text="Network maintenance in US West")
    assert "US West API" in scheduled.inner_text()
    # Maintenance overrides one component; the page says so unless something is worse elsewhere.
    assert page.locator(".sp-overall").inner_text().strip() != "All systems operational"
    shoot(window, "status-page-maintenance.png")
    visit.close()


def test_it_refreshes_itself_without_a_reload(browser: Any, stack: Stack) -> None:
    visit = Visit(browser, stack)
    visit.page.clock.install()
    page = visit.open()
    page.evaluate("window.__sameDocument = true")
    stack.feed("statuspage-update")
    page.clock.run_for(31_000)  # the script's next look at state.json
    # Polled on an interval: the fake clock also holds animation frames, the default way of polling.
    page.wait_for_function("() => document.body.innerText.includes('Fix deployed everywhere.')", polling=200)
    assert page.evaluate("window.__sameDocument") is True  # swapped in place, not reloaded
    assert page.locator(".sp-incidents-open").count() == 0
    assert "Status updated" in page.locator("#sp-live").inner_text()
    visit.close()
