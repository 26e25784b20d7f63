"""``/api/v1/docs``: Swagger UI for the generated document, from files this server serves, under the CSP."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from tests.api.support import assert_error

pytestmark = pytest.mark.django_db


class Assets(HTMLParser):
    """Every script and stylesheet a page loads, and every inline script it carries."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            if named.get("src"):
                self.urls.append(str(named["src"]))
            self._in_script = named
        elif tag == "link" and named.get("href") and named.get("rel") in ("stylesheet", "icon"):
            self.urls.append(str(named["href"]))

    def handle_data(self, data: str) -> None:
        # A JSON data block is not run by the browser; any other script body is inline code.
        script = self._in_script
        if script is not None and not script.get("src") and script.get("type") != "application/json" and data.strip():
            self.inline_scripts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None


@pytest.fixture
def static_client(settings: Any) -> Client:
    # Collected static files are not there in tests: let WhiteNoise read them where collectstatic would.
    settings.WHITENOISE_USE_FINDERS = True
    return Client()


def test_it_serves_the_docs_page_from_same_origin_assets_under_the_csp(static_client: Client) -> None:
    response = static_client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    page = Assets()
    page.feed(response.content.decode())
    assert page.inline_scripts == []
    scripts = [url for url in page.urls if url.endswith(".js")]
    assert len(scripts) >= 2, page.urls  # the Swagger UI bundle and the script that starts it
    assert any(url.endswith(".css") for url in page.urls)
    for url in page.urls:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url  # scheme-relative: another host
        asset = static_client.get(url)
        assert asset.status_code == 200, url
    assert "/api/v1/openapi.json" in response.content.decode()


def test_it_serves_the_docs_page_without_credentials_but_refuses_writes_and_parameters(client: Client) -> None:
    assert client.get("/api/v1/docs").status_code == 200
    assert_error(client.post("/api/v1/docs"), 405, "method_not_allowed")
    error = assert_error(client.get("/api/v1/docs?url=https://evil.example/spec.json"), 400, "invalid_parameters")
    assert "url" in error["details"]["fields"]
