"""Running the product from the dashboard, in a real Chromium against a running product (production settings,
the CSP): from an empty dashboard add a source with Test to a card with data; silence a firing alert; the rule
and channel forms show the fields of each kind chosen as the server would send them.

Every wait is on state (an element, a class, a count), never a fixed sleep. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_stack import ARTIFACTS, INTERVAL, Stack
from tests.dashboard.test_browser import browser, open_page  # noqa: F401 - the shared Chromium fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("selfserve-stack"), redis_url)
    # The poller picks up a source added from the dashboard at its next reload of the source list.
    running.env["POLLER_RELOAD_SECONDS"] = "1"
    running.env["ALERTS_DELIVERY_POLL_INTERVAL"] = "0.5"
    # These tests are about the source and alert forms; the staff second factor they would otherwise have
    # to enrol first is covered by tests/accounts/test_browser_mfa.py.
    running.env["REQUIRE_MFA_FOR_STAFF"] = "false"
    try:
        running.prepare()
        running.feed("user")
        running.start_simulator_and_poller()
        running.start_web()
        yield running
    finally:
        running.stop()


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[tuple[Any, list[str]]]:  # noqa: F811
    problems: list[str] = []
    opened = open_page(browser, stack, problems)
    yield opened, problems
    opened.context.close()


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def fill_source_form(page: Any, stack: Stack, slug: str, region: str) -> None:
    page.fill("#id_name", slug.replace("-", " ").title())
    page.fill("#id_slug", slug)
    page.fill("#id_url", f"http://127.0.0.1:{stack.simulator_port}/status/{region}?stats=1")
    page.fill("#id_region", region)
    page.fill("#id_tags", "prod, checkout")
    page.fill("#id_interval_seconds", str(INTERVAL))
    page.fill("#id_timeout_seconds", "3")


def add_source(page: Any, stack: Stack, slug: str, region: str) -> None:
    page.goto("/sources/new/")
    fill_source_form(page, stack, slug, region)
    page.click("button[name=action][value=save]")
    page.wait_for_url(f"{stack.url}/sources/{slug}/")


def test_it_adds_a_source_with_test_from_an_empty_dashboard_to_a_card_with_data(
    page: tuple[Any, list[str]], stack: Stack
) -> None:
    tab, problems = page
    assert tab.locator(".empty").inner_text().startswith("No sources yet")
    tab.click(".empty >> text=Add a source")
    tab.wait_for_url(f"{stack.url}/sources/new/")
    fill_source_form(tab, stack, "payments-eu", "eu-west")
    # The tag input shows chips (the script runs under the CSP); the rows editor grows a row for a bad path.
    assert tab.locator(".chips .chip-tag").count() == 2
    tab.click("[data-kv=metric_paths] .kv-add")
    tab.locator("[data-kv=metric_paths] .kv-row").last.locator("input[name=metric_paths_key]").fill("nope")
    tab.locator("[data-kv=metric_paths] .kv-row").last.locator("input[name=metric_paths_value]").fill("results.nope.x")

    tab.click("#test-button")
    tab.wait_for_selector("#probe")
    assert "HTTP 200" in tab.locator(".probe-ok").inner_text()
    cpu = tab.locator('.probe-match[data-metric="cpu_load"] .probe-value').inner_text()
    assert re.fullmatch(r"\d+(\.\d{1,4})?", cpu), cpu  # as the API writes it: 38.3, not 38.3000
    miss = tab.locator('.probe-miss[data-metric="nope"]')
    assert "matches nothing" in miss.inner_text()
    assert "1 path matches nothing" in tab.locator("#probe").inner_text()
    shoot(tab, "selfserve-add-source-test.png")

    tab.click("button[name=action][value=save]")
    tab.wait_for_url(f"{stack.url}/sources/payments-eu/")
    assert "Added Payments Eu" in tab.locator(".messages").inner_text()
    assert "waiting for first poll" in tab.locator('[data-part="head"]').inner_text()
    # The first poll turns the head OK live; nothing on the page may still say the source waits for it.
    tab.wait_for_selector('[data-part="head"] .pill-ok', timeout=45000)
    assert "first poll" not in tab.locator("body").inner_text()

    tab.goto("/")
    card = tab.locator('.card[data-source="payments-eu"]')
    card.wait_for()
    # The poller's reload finds the new source and polls it; the card turns from waiting to data, live.
    tab.wait_for_function(
        """() => { const c = document.querySelector('.card[data-source="payments-eu"]');
                   const cpu = c && c.querySelector('[data-metric="cpu_load"] .num-value');
                   return c && c.dataset.status === 'ok' && cpu && /\\d/.test(cpu.textContent); }""",
        timeout=45000,
    )
    shoot(tab, "selfserve-card-with-data.png")
    assert problems == []


def test_it_silences_a_firing_alert_from_the_alerts_page(page: tuple[Any, list[str]], stack: Stack) -> None:
    tab, problems = page
    add_source(tab, stack, "checkout-sa", "sa-east")  # with its "unreachable" rule, on by default
    stack.control("faults/sa-east", {"kind": "error", "status": 503})
    try:
        tab.goto("/alerts/")
        # The Alerts page does not update live: ask the server for it until the rule fires, then load it.
        fired = tab.evaluate(
            """async () => {
                const deadline = Date.now() + 60000;
                while (Date.now() < deadline) {
                    const text = await (await fetch('/alerts/')).text();
                    const firing = (text.split('id="firing"')[1] || '').split('</ul>')[0];
                    if (firing.includes('data-source="checkout-sa"')) return true;
                    await new Promise(resolve => setTimeout(resolve, 500));  // between polls of the state
                }
                return false;
            }"""
        )
        assert fired, "the unreachable rule did not fire within 60 s"
        tab.reload()
        row = '#firing .alert-row[data-source="checkout-sa"]'
        assert "checkout-sa unreachable" in tab.locator(row).inner_text()
        tab.locator(row).locator("button[name=duration][value='1h']").click()
        tab.wait_for_selector(".message-success")
        assert "Silenced Checkout Sa until" in tab.locator(".messages").inner_text()
        assert tab.locator(f"{row} [data-silenced]").inner_text() == "silenced"
        assert tab.locator("#silences [data-silence]").count() == 1
        shoot(tab, "selfserve-alert-silenced.png")
        tab.goto("/")
        tab.locator('.card[data-source="checkout-sa"] [data-silenced]').wait_for()
    finally:
        urllib_delete(stack, "faults/sa-east")
    assert problems == []


def urllib_delete(stack: Stack, path: str) -> None:
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{stack.simulator_port}/_control/{path}", method="DELETE")
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - loopback only
        pass


# Every field of a form with kinds, by name, and whether the page shows it now.
SHOWN_FIELDS = """() => Array.from(document.querySelectorAll('form .field')).flatMap(field => {
    const input = field.querySelector('[name]');
    return input ? [[input.name, !field.closest('[hidden]')]] : [];
})"""


@pytest.mark.parametrize(
    ("path", "what"), [("/alerts/rules/new/", "rule"), ("/alerts/channels/new/", "channel")], ids=["rule", "channel"]
)
def test_it_shows_the_fields_of_each_kind_chosen_as_the_server_sends_them(
    page: tuple[Any, list[str]], stack: Stack, path: str, what: str
) -> None:
    """The script (static/js/forms.js) and the page as sent (dashboard/kind_fields.py) apply one rule in two
    languages: for every kind and scope chosen in the selects, the script shows the fields the server would."""
    from dashboard.views.alerts_page import CHANNEL_KIND_FIELDS, RULE_KIND_FIELDS

    fields = RULE_KIND_FIELDS if what == "rule" else CHANNEL_KIND_FIELDS
    tab, problems = page
    tab.goto(path)
    options = {
        name: tab.locator(f"select[name={name}] option").evaluate_all("options => options.map(o => o.value)")
        for name in fields.selects
    }
    combinations: list[dict[str, str]] = [{}]
    for name, values in options.items():
        combinations = [{**chosen, name: value} for chosen in combinations for value in values if value]
    assert len(combinations) > 3
    for chosen in combinations:
        for name, value in chosen.items():
            tab.select_option(f"select[name={name}]", value, force=True)  # scope hides for a burn-rate rule
        shown = dict(tab.evaluate(SHOWN_FIELDS))
        expected = {name: fields.shown(name, set(chosen.values())) for name in shown}
        assert shown == expected, chosen
    assert problems == []
