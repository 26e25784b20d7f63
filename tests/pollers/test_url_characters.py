"""A source URL with a control character in it is refused when the source is saved, on its url field.

Before, such a URL was accepted at save (the API, the dashboard's and the admin's forms, configuration files)
unless it happened to be whitespace Django's URL check knows: the HTTP client then percent-encoded it and
polled another URL than the one stored, and a NUL could not even be written to PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from pollers.models import PollFailure, Source
from pollers.validation import url_problem
from tests.factories import make_poller, make_source

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


@pytest.mark.django_db
@pytest.mark.parametrize("character", ["\x01", "\t", "\x7f"])
def test_it_refuses_to_poll_a_url_stored_with_a_control_character(
    character: str, simulator: Any, allow_loopback: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Stored before the URL was checked at save (or written around it): the client percent-encoded the
    # character and polled another URL than the one stored. The rule that refuses it at save refuses the poll.
    source = make_source("us-east", url=simulator.url("us-east"), timeout_seconds=1.0)
    Source.objects.filter(pk=source.pk).update(url=simulator.url("us-east", f"stats=1&key=s3cr3t{character}x"))
    source.refresh_from_db()
    poller = make_poller(failure_threshold=1000, cooldown=600)
    try:
        outcome = poller.poll(source)
    finally:
        poller.fetcher.close()

    assert simulator.requests_for("us-east") == []  # refused before any request
    assert (outcome.ok, outcome.error_kind, outcome.attempts) == (False, "bad_url", 1)
    assert outcome.error_message == url_problem(source.url)
    [failure] = PollFailure.objects.filter(source=source)
    assert (failure.kind, failure.message) == ("bad_url", outcome.error_message)
    source.refresh_from_db()
    assert (source.last_error_kind, source.consecutive_failures) == ("bad_url", 1)
    assert "s3cr3t" not in outcome.error_message + caplog.text  # the URL's query is never quoted
