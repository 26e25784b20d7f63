"""A card tells what the poller knows about reaching its source: an internal failure, TLS verification off,
credentials sent where anyone on the network path could read them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from pollers.engine import Poller
from pollers.signals import change_stored
from tests.dashboard.test_overview import card_html, text
from tests.factories import (
    UNVERIFIED_API_KEY,
    make_poller,
    make_source,
    make_source_sending_credentials_unverified,
    payload,
    record,
)
from tests.simulator import RunningSimulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def poller() -> Iterator[Poller]:
    poller = make_poller(failure_threshold=1000, cooldown=600)
    yield poller
    poller.fetcher.close()


def test_it_shows_an_internal_failure_as_such_on_the_card(
    user_client: Client, simulator: RunningSimulator, poller: Poller
) -> None:
    source = make_source("us-east", url=simulator.url("us-east"), timeout_seconds=2.0)

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("a listener bug")

    change_stored.connect(broken, dispatch_uid="test-card-internal")
    try:
        outcome = poller.poll(source)
    finally:
        change_stored.disconnect(dispatch_uid="test-card-internal")
    assert outcome.error_kind == "internal"

    card = text(card_html(user_client.get("/").content.decode(), "us-east"))
    assert "Unreachable" in card
    assert "last 1 poll failed (internal error)" in card


def test_it_warns_on_the_card_of_a_source_whose_tls_is_not_verified(user_client: Client) -> None:
    unverified = make_source("us-east", url="https://status.example.com/", tls_verify=False)
    verified = make_source("eu-west", url="https://status.example.org/")
    for source in (unverified, verified):
        record(source, payload(), timezone.now())

    html = user_client.get("/").content.decode()
    assert "TLS verification off" in text(card_html(html, "us-east"))
    assert "TLS verification off" not in text(card_html(html, "eu-west"))


def test_it_warns_on_the_card_of_a_source_sending_credentials_insecurely_unless_acknowledged(
    user_client: Client, lan_host: str
) -> None:
    make_source_sending_credentials_unverified("us-east", lan_host)
    make_source_sending_credentials_unverified("eu-west", lan_host, insecure_credentials_acknowledged=True)

    html = user_client.get("/").content.decode()
    flagged = card_html(html, "us-east")
    assert "⚠ Credentials sent insecurely ( why, and the fix )" in text(flagged)
    assert 'href="/sources/us-east/"' in flagged.split('data-role="credentials-unverified"')[1]
    assert "The URL is plain http while the source sends the header X-Api-Key" in flagged  # the title: why
    assert "Credentials sent insecurely" not in text(card_html(html, "eu-west"))
    # The live repaint carries it too.
    cards = user_client.get("/overview/cards.json?source=us-east").json()
    assert "Credentials sent insecurely" in json.dumps(cards)
    assert UNVERIFIED_API_KEY not in html + json.dumps(cards)
