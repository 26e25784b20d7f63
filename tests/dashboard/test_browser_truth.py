"""Issue 16 in a real Chromium: the dashboard never tells a reassuring story that is false.

Each test reproduces one thing a user saw and checks it no longer happens: the drill-down contradicting
itself after a live update, a frozen web server that looked live, a stopped poller shown only on /system,
and "sort by status" doing nothing while grouped. Every wait is on page state with a deadline; screenshots
go to test-artifacts/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_stack import Stack
from tests.dashboard.test_browser import REGIONS, open_page, shoot, wait_until_polled
from tests.dashboard.test_browser import browser as browser
from tests.dashboard.test_browser import stack as stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# static/js/live.js: PING_EVERY + PONG_TIMEOUT (docs/websocket-protocol.md, "Heartbeat").
PAUSED_WITHIN_MS = 15000
# dashboard/system_state.py: CHECK_EVERY_SECONDS + CACHE_SECONDS, and a second for the fetch.
BANNER_WITHIN_MS = (10 + 5 + 1) * 1000
SLACK_MS = 5000  # page scheduling on a loaded machine (two cores shared with other test runs)


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    problems: list[str] = []
    opened = open_page(browser, stack, problems)
    yield opened
    opened.context.close()
    assert problems == []


def set_regions(stack: Stack, **kinds: str) -> None:
    """Force each region up or down for good (the simulator otherwise lets chance take regions down)."""
    for region in REGIONS:
        stack.control(f"faults/{region}", {"kind": kinds.get(region.replace("-", "_"), "healthy")})


HEAD_STATE = """() => {
  const head = document.querySelector('.source-head');
  const fact = document.querySelector('[data-fact="status"] strong');
  return {
    status: head.dataset.status,
    pill: head.querySelector('[data-role="status"]').textContent.trim(),
    reason: head.querySelector('[data-role="reason"]').textContent.trim(),
    issue: !!document.querySelector('[data-part="issue"] .issue'),
    down: [...document.querySelectorAll('[data-part="now"] .svc-down')].map(e => e.textContent.trim()),
    reported: fact ? fact.textContent.trim() : null,
  };
}"""


def assert_one_truth(state: dict[str, Any]) -> None:
    """The header, the banner, the services and the reported status tell one story."""
    reported_ok = state["reported"] in (None, "ok")
    if not reported_ok or state["issue"] or state["down"]:
        assert state["pill"] != "OK", state
    if state["pill"] == "OK":
        assert reported_ok, state
        assert not state["issue"], state
        assert state["down"] == [], state


def test_it_keeps_the_drill_down_consistent_after_a_live_update(page: Any, stack: Stack) -> None:
    set_regions(stack)
    try:
        page.goto("/sources/eu-central/")
        page.wait_for_selector('body[data-live="open"]')
        page.wait_for_function("() => document.querySelector('.source-head').dataset.status === 'ok'", timeout=30000)
        page.evaluate("window.__samePage = true")
        assert_one_truth(page.evaluate(HEAD_STATE))

        # The region reports status error, redis down and a server issue: every part must say so together.
        stack.control("faults/eu-central", {"kind": "degraded"})
        page.wait_for_function(
            """() => document.querySelector('.source-head').dataset.status === 'error'
                     && document.querySelector('[data-part="issue"] .issue') !== null""",
            timeout=30000,
        )
        failing = page.evaluate(HEAD_STATE)
        assert failing["pill"] == "Error"
        assert failing["reported"] == "error"
        assert len(failing["down"]) == 1
        assert_one_truth(failing)
        assert page.locator("#details-stale").count() == 0  # no "reload for the details below"
        shoot(page, "truth-drilldown-error.png")

        # And back: the header says OK only once the banner and the red service are gone with it.
        stack.control("faults/eu-central", {"kind": "healthy"})
        page.wait_for_function(
            "() => document.querySelector('.source-head').dataset.status === 'ok'",
            timeout=30000,
        )
        recovered = page.evaluate(HEAD_STATE)
        assert (recovered["pill"], recovered["issue"], recovered["down"]) == ("OK", False, [])
        assert_one_truth(recovered)
        assert page.evaluate("window.__samePage") is True  # all in place, no reload
        shoot(page, "truth-drilldown-recovered.png")
    finally:
        stack.control("reset", {})


CHIP_COUNTS = (
    "() => Object.fromEntries([...document.querySelectorAll('[data-count-for]')]"
    ".map(c => [c.dataset.countFor, Number(c.querySelector('.chip-n').textContent)]))"
)


def test_it_turns_the_badge_paused_and_the_cards_unknown_when_the_web_process_freezes(page: Any, stack: Stack) -> None:
    page.wait_for_selector('body[data-live="open"]')
    wait_until_polled(page, stack)
    counts_before = page.evaluate(CHIP_COUNTS)
    assert sum(counts_before.values()) == 6
    stack.freeze_web()
    frozen_at = time.monotonic()
    try:
        page.wait_for_function(
            "() => document.getElementById('live-badge').textContent.startsWith('Live updates paused')",
            timeout=PAUSED_WITHIN_MS + SLACK_MS,
        )
        paused_after = time.monotonic() - frozen_at
        assert "no reply from the server" in page.locator("#live-badge").inner_text()
        statuses = page.locator(".card[data-source]").evaluate_all("els => els.map(e => e.dataset.status)")
        assert statuses == ["unknown"] * 6
        assert page.locator(".card .pill-unknown").first.text_content() == "Unknown"
        # The numbers are dimmed and marked as the last known ones.
        assert page.locator(".card .last-known-note").first.is_visible()
        # The status chips keep the last confirmed counts (not "0 ok"), dimmed, and say since when.
        assert page.locator(".summary").evaluate("el => el.classList.contains('is-unconfirmed')")
        assert page.evaluate(CHIP_COUNTS) == counts_before
        note = page.locator('[data-role="counts-note"]')
        assert note.is_visible()
        assert "last confirmed" in note.inner_text()
        assert "no reply from the server" in note.inner_text()
        shoot(page, "truth-frozen-server-paused.png")
    finally:
        stack.thaw_web()
    assert paused_after <= (PAUSED_WITHIN_MS + SLACK_MS) / 1000
    # Reconnecting recovers: live again, and every card gets its verdict back from the server.
    page.wait_for_selector('body[data-live="open"]', timeout=45000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.card[data-source]')].every(c => c.dataset.status !== 'unknown')",
        timeout=15000,
    )
    assert page.locator("#live-badge").inner_text() == "Live"
    assert not page.locator(".summary").evaluate("el => el.classList.contains('is-unconfirmed')")
    assert not page.locator('[data-role="counts-note"]').is_visible()
    assert sum(page.evaluate(CHIP_COUNTS).values()) == 6  # fresh counts again, every source counted


def test_it_shows_the_banner_on_every_page_when_the_poller_stops(page: Any, browser: Any, stack: Stack) -> None:
    banner_shown = "() => { const b = document.getElementById('system-banner'); return b && !b.hidden; }"
    page.wait_for_selector('body[data-live="open"]')
    assert page.locator("#system-banner").is_hidden()
    stack.stop_poller()
    try:
        page.wait_for_function(banner_shown, timeout=BANNER_WITHIN_MS + SLACK_MS)
        assert "No poller is running" in page.locator("#system-banner").inner_text()
        shoot(page, "truth-poller-stopped-overview.png")
        problems: list[str] = []
        other = open_page(browser, stack, problems)
        for path in ("/sources/us-east/", "/sources/us-east/changes/", "/system/"):
            other.goto(path)
            assert other.locator("#system-banner").is_visible(), path
        other.context.close()
        assert problems == []
    finally:
        stack.start_poller()
    page.wait_for_function(f"() => !({banner_shown})()", timeout=BANNER_WITHIN_MS + 30000)


def test_it_sorts_by_status_across_groups_so_the_error_card_comes_first(page: Any, stack: Stack) -> None:
    set_regions(stack, us_west="degraded")
    try:
        page.goto("/?sort=status")
        page.wait_for_selector('body[data-live="open"]')
        page.wait_for_function(
            """() => { const cards = [...document.querySelectorAll('.card[data-source]')];
                       return cards.length === 6 && cards.every(c => c.dataset.source === 'us-west'
                         ? c.dataset.status === 'error' : c.dataset.status === 'ok'); }""",
            timeout=45000,
        )
        page.wait_for_function("() => document.querySelector('.group').dataset.group === 'us-west'")
        order = page.locator(".card[data-source]").evaluate_all("els => els.map(e => e.dataset.source)")
        assert order[0] == "us-west"
        assert order[1:] == sorted(order[1:])  # the rest: equal status, groups in name order
        assert page.locator(".group-title").first.inner_text() == "us-west · 1 source"
        shoot(page, "truth-sort-by-status.png")

        page.select_option("select[name=sort]", "name")
        page.wait_for_function("() => document.querySelector('.group').dataset.group === 'ap-southeast'")
        page.select_option("select[name=sort]", "status")
        page.wait_for_function("() => document.querySelector('.group').dataset.group === 'us-west'")
    finally:
        stack.control("reset", {})


# The newest change on the page that touched ``status``: its sequence number and the new value.
LAST_STATUS_CHANGE = r"""() => {
  for (const change of document.querySelectorAll('.change')) {
    const field = change.querySelector('.diff > li[data-path="status"] .diff-new');
    if (field) return {seq: Number(change.querySelector('.change-head .muted').textContent.match(/#(\d+)/)[1]),
                       value: JSON.parse(field.textContent)};
  }
  return null;
}"""


def test_it_follows_new_changes_live_with_important_fields_first_and_expands_the_rest(page: Any, stack: Stack) -> None:
    stack.control("faults/eu-central", {"kind": "degraded"})
    try:
        page.goto("/sources/eu-central/changes/")
        page.wait_for_selector('body[data-live="open"]')
        page.evaluate("window.__samePage = true")
        # The region is down now (its newest status change says "error"), whatever it was before.
        page.wait_for_function(f"() => ({LAST_STATUS_CHANGE})()?.value === 'error'", timeout=30000)
        down = page.evaluate(LAST_STATUS_CHANGE)
        # Its recovery arrives in place, as a new change.
        stack.control("faults/eu-central", {"kind": "healthy"})
        page.wait_for_function(
            f"(seq) => {{ const c = ({LAST_STATUS_CHANGE})(); return c && c.seq > seq && c.value === 'ok'; }}",
            arg=down["seq"],
            timeout=30000,
        )
        first = page.locator(".change", has=page.locator('.diff > li[data-path="status"]')).first
        paths = first.locator(".diff > li[data-path]").evaluate_all("els => els.map(e => e.dataset.path)")
        assert paths[0] == "status"
        assert any(p.startswith("results.services") for p in paths[1:3])
        more = first.locator("details.diff-more")
        if more.count():
            hidden_paths = more.locator("li[data-path]").count()
            assert (
                more.locator("summary").inner_text()
                == f"and {hidden_paths} more field{'s' if hidden_paths != 1 else ''}"
            )
            more.locator("summary").click()
            assert more.locator("li[data-path]").first.is_visible()
        assert page.evaluate("window.__samePage") is True
        shoot(page, "truth-changes-live.png")
    finally:
        stack.control("reset", {})
