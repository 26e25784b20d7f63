"""Request headers that cannot be sent are refused when a source is saved, with a field error.

Reproduces issue 14 finding 8: a header value with CR/LF was accepted at save, and every poll of
the source failed afterwards (or the value split into a second header on the wire).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from pollers.models import Source
from pollers.validation import MAX_HEADER_LINE_BYTES, header_problem, validate_request_headers
from tests.http_login import login_session
from tests.pollers.support import form_rows

BAD_HEADERS = [
    ({"X-Team": "ops\r\nX-Injected: 1"}, "carriage return (CR)"),
    ({"X-Team": "ops\nX-Injected: 1"}, "line feed (LF)"),
    ({"X-Team": "ops\x00"}, "NUL character"),
    ({"X-Team": "ops\x7f"}, "U+007F"),
    ({"X-Team": "ops\x1b[31m"}, "U+001B"),
    ({"X-Bad\r\nName": "v"}, "carriage return (CR)"),
    ({"X Team": "v"}, "not a valid HTTP header name"),
    ({"X-Team:": "v"}, "not a valid HTTP header name"),
    ({"": "v"}, "not a valid HTTP header name"),
    ({"X-Team": "équipe ☃"}, "beyond Latin-1"),
    ({"X-Count": 5}, "must be strings"),
]


@pytest.mark.parametrize(("headers", "words"), BAD_HEADERS)
def test_it_refuses_headers_that_cannot_be_sent(headers: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_request_headers(headers)
    assert words in " ".join(caught.value.messages)


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer abc.def", "X-Team": "ops\tnight shift", "Accept": "application/json"}]
)
def test_it_accepts_headers_that_can_be_sent(headers: dict[str, str]) -> None:
    validate_request_headers(headers)
    assert all(header_problem(name, value) is None for name, value in headers.items())


def test_it_caps_a_header_at_its_whole_line_as_sent_in_bytes() -> None:
    # "X-Long: " takes 8 bytes of the line; a Latin-1 letter is one byte on the wire (http.client's encoding).
    fits = {"X-Long": "é" * (MAX_HEADER_LINE_BYTES - len("X-Long: "))}
    validate_request_headers(fits)
    with pytest.raises(ValidationError) as caught:
        validate_request_headers({"X-Long": fits["X-Long"] + "a"})
    assert caught.value.messages == [
        'Header "X-Long" is 8193 bytes on the wire (name, ": " and value), over the 8192 bytes a header line may '
        "take: most servers refuse a longer one."
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("headers", "words"), BAD_HEADERS[:6])
def test_it_puts_the_refusal_on_the_headers_field_of_the_model(
    headers: dict[str, Any], words: str, settings: Any
) -> None:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    source = Source(slug="probe", name="probe", url="http://127.0.0.1:9/status/us-east", headers=headers)
    with pytest.raises(ValidationError) as caught:
        source.full_clean()
    assert list(caught.value.message_dict) == ["headers"]
    assert words in " ".join(caught.value.message_dict["headers"])


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_crlf_header_in_the_admin_over_http(live_server: Any, settings: Any) -> None:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    # Staff writes in the admin without a second factor: the second factor has its own tests (tests/accounts/).
    settings.REQUIRE_MFA_FOR_STAFF = False
    get_user_model().objects.create_superuser("root", "root@example.com", "a-long-admin-password")
    session = requests.Session()
    session.cookies.set("sessionid", login_session(live_server.url, "root", "a-long-admin-password"))
    add = session.get(f"{live_server.url}/admin/pollers/source/add/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', add.text)
    assert token is not None
    response = session.post(
        f"{live_server.url}/admin/pollers/source/add/",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "slug": "crlf",
            "name": "crlf",
            "url": "http://127.0.0.1:9/status/us-east",
            "enabled": "on",
            "tags": "",
            "interval_seconds": "30",
            "timeout_seconds": "10",
            **form_rows("headers", {"X-Team": "ops\r\nX-Injected: yes"}),
            "volatile_paths": "",
        },
        timeout=10,
    )
    assert response.status_code == 200  # the form again, not a redirect to the list
    assert "invalid name or value" in response.text
    assert "carriage return (CR)" in response.text
    assert not Source.objects.filter(slug="crlf").exists()
