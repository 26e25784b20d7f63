"""A card tells what the poller knows about reaching its source: an internal failure, TLS verification off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from pollers.engine import Poller
from pollers.signals import change_stored
from tests.dashboard.test_overview import card_html, text
from tests.factories import make_poller, make_source, payload, record
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
