"""A source URL with a control character in it is refused when the source is saved, on its url field.

Before, such a URL was accepted at save (the API, the dashboard's and the admin's forms, configuration files)
unless it happened to be whitespace Django's URL check knows: the HTTP client then percent-encoded it and
polled another URL than the one stored, and a NUL could not even be written to PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from pollers.models import Source
from pollers.validation import url_problem

BASE = "http://127.0.0.1:9/status"
BAD_URLS = [
    (f"{BASE}\x7f", "the control character U+007F (character 26)", "%7F"),
    (f"{BASE}?q=a\x01b", "the control character U+0001", "%01"),
    (f"{BASE}#\x1b[31m", "the control character U+001B", "%1B"),
    (f"{BASE}/a\x00b", "a NUL character", "%00"),
    (f"{BASE}\n", "a line feed (LF)", "%0A"),
    (f"{BASE}/a\tb", "a tab", "%09"),
    (f"\r{BASE}", "a carriage return (CR) (character 1)", "%0D"),
    (f"{BASE}/\x85", "the control character U+0085", "%C2%85"),
]


@pytest.mark.parametrize(("url", "words", "encoded"), BAD_URLS)
def test_it_names_the_control_character_and_how_to_write_it(url: str, words: str, encoded: str) -> None:
    problem = url_problem(url)
    assert problem is not None
    assert words in problem
    assert f"({encoded})" in problem


@pytest.mark.parametrize("url", [BASE, f"{BASE}?q=a%7Fb%00", "https://status.example.com/ünïcode/päth?x=é"])
def test_it_accepts_urls_without_control_characters(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "words", "encoded"), BAD_URLS)
def test_it_puts_the_refusal_on_the_url_field_of_the_model(
    url: str, words: str, encoded: str, allow_loopback: Any
) -> None:
    source = Source(slug="probe", name="probe", url=url)
    with pytest.raises(ValidationError) as caught:
        source.full_clean()
    assert list(caught.value.message_dict) == ["url"]
    assert words in " ".join(caught.value.message_dict["url"])
