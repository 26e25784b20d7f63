"""Two-factor authentication in a real Chromium against a running product with production settings (DEBUG off,
hashed static files, the CSP, REQUIRE_MFA_FOR_STAFF on): a staff user is sent to enrol, enrols an authenticator
app, logs out, and logs in again with a code computed here as an authenticator app would. Screenshots land in
test-artifacts/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest

from tests.browser_stack import ARTIFACTS, PAGE_TIMEOUT_MS, Stack, chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]
USERNAME = "mfa-browser"
PASSWORD = "mfa-browser-password-7"  # a throwaway account in a throwaway database


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("mfa-stack"), redis_url)
    running.env["REQUIRE_MFA_FOR_STAFF"] = "true"
    try:
        running.prepare()
        running.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_user({USERNAME!r}, 'mfa@example.com', {PASSWORD!r}, is_staff=True)",
        )
        running.start_web()
        yield running
    finally:
        running.stop()


@pytest.fixture
def page(stack: Stack) -> Iterator[Any]:
    problems: list[str] = []
    with chromium() as browser:
        context = browser.new_context(base_url=stack.url, viewport={"width": 1100, "height": 900})
        opened = context.new_page()
        opened.set_default_timeout(PAGE_TIMEOUT_MS)
        opened.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

        def on_console(message: Any) -> None:
            # The Django admin's pages name no icon, so Chromium asks for /favicon.ico: not ours to judge.
            if message.type == "error" and not str(message.location.get("url", "")).endswith("/favicon.ico"):
                problems.append(f"console: {message.text} at {message.location.get('url')}")

        opened.on("console", on_console)
        yield opened
    # A CSP violation (an inline script, a foreign origin) shows as a console error.
    assert problems == []


def log_in(page: Any, stack: Stack) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", PASSWORD)
    page.click("form.form button[type=submit]")


def next_code(totp: pyotp.TOTP, used: str) -> str:
    """The authenticator's code once it differs from ``used``: a TOTP code works once, and changes every 30 s."""
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        code = totp.now()
        if code != used:
            return code
        time.sleep(0.5)  # the state waited on is the clock itself: the next 30-second step
    raise AssertionError("the TOTP code did not change within 40 s")


def test_it_enrols_totp_logs_out_and_logs_in_with_a_code(page: Any, stack: Stack) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    log_in(page, stack)
    page.wait_for_url(stack.url + "/")

    # Staff without a second factor are sent to enrol before the admin.
    page.goto("/admin/")
    page.wait_for_url(stack.url + "/accounts/2fa/")
    assert "second factor" in page.content()

    # Adding an authenticator asks for the password again, then shows the QR code and the secret.
    page.goto("/accounts/2fa/totp/activate/")
    page.wait_for_url("**/accounts/reauthenticate/**")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(stack.url + "/accounts/2fa/totp/activate/")
    page.screenshot(path=str(ARTIFACTS / "mfa-enrol-totp.png"), full_page=True)
    secret = page.input_value("#authenticator_secret")
    totp = pyotp.TOTP(secret)
    first = totp.now()
    page.fill("#id_code", first)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/totp/activate/" not in url)
    page.goto("/admin/")
    page.wait_for_url(stack.url + "/admin/")  # enrolled: the admin opens

    # The passkey page runs allauth's own scripts from static files under script-src 'self' (no inline script):
    # they loaded and wired the page, and no CSP violation reached the console (checked by the fixture).
    page.goto("/accounts/2fa/webauthn/add/")
    page.wait_for_url(stack.url + "/accounts/2fa/webauthn/add/")
    page.wait_for_load_state("load")
    assert page.evaluate("typeof window.allauth.webauthn.forms.addForm") == "function"
    assert page.is_visible("#mfa_webauthn_add")

    # Log out, log in: the password alone is not enough now.
    page.goto("/accounts/logout/")
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/login/**")
    log_in(page, stack)
    page.wait_for_url(stack.url + "/accounts/2fa/authenticate/")
    page.screenshot(path=str(ARTIFACTS / "mfa-authenticate.png"), full_page=True)
    page.fill("#id_code", next_code(totp, first))
    page.click("main button[type=submit]")
    page.wait_for_url(stack.url + "/")
    page.goto("/admin/")
    page.wait_for_url(stack.url + "/admin/")
    page.screenshot(path=str(ARTIFACTS / "mfa-logged-in-admin.png"), full_page=True)
