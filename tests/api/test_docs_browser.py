"""``/api/v1/docs`` in a real Chromium against daphne with production settings (DEBUG off, hashed static
files, the CSP): Swagger UI renders every operation of the generated document, and the browser reports no
CSP violation, no failed request and no script error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_stack import ARTIFACTS, PAGE_TIMEOUT_MS, Stack, chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Recorded by the page itself: the CSP reports a violation as an event whether or not it logs it.
VIOLATIONS = """document.addEventListener('securitypolicyviolation', event => {
  (window.__violations = window.__violations || []).push(event.violatedDirective + ' ' + event.blockedURI);
});"""


@pytest.fixture(scope="module")
def web(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("docs-stack"), redis_url)
    try:
        running.prepare()
        running.start_web()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def test_it_renders_the_docs_page_without_csp_violations(browser: Any, web: Stack) -> None:
    context = browser.new_context(base_url=web.url, viewport={"width": 1280, "height": 900})
    context.add_init_script(VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    outside: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(web.url) else outside.append(request.url))
    try:
        response = page.goto("/api/v1/docs")
        assert response is not None
        assert response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        # Swagger UI fetched the generated document and drew one block per operation.
        page.wait_for_function("() => document.querySelectorAll('.opblock').length >= 15")
        assert "DevOps Insights API" in page.locator(".info .title").inner_text()
        assert page.locator(".opblock-summary-path", has_text="/api/v1/alerts").count() == 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=False)
        assert page.evaluate("window.__violations || []") == []
        assert problems == []
        assert outside == []
    finally:
        context.close()
