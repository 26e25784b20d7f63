"""``Source.add``: a new source a person or a tool added is stored and announced (``source_added``) in one
transaction; what its receivers write stands or falls with it."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Team, default_team_id
from pollers.models import Source
from pollers.signals import source_added
from tests.factories import make_source

pytestmark = pytest.mark.django_db


def test_it_stores_a_new_source_in_the_default_team_and_announces_it_once(announced: list[Any]) -> None:
    source = Source(slug="payments", name="Payments", url="http://127.0.0.1:9/status")
    source.add()
    stored = Source.objects.get(slug="payments")
    # Announced saved: a receiver can link rows to it and read its team.
    assert announced == [("payments", stored.pk, default_team_id())]


def test_it_stores_nothing_that_a_failing_receiver_would_leave_half_done() -> None:
    def write_then_fail(sender: Any, source: Source, **kwargs: Any) -> None:
        Team.objects.create(slug="made-by-a-receiver", name="Made by a receiver")
        raise RuntimeError("a listener's bug")

    source_added.connect(write_then_fail, sender=Source, weak=False, dispatch_uid="tests.fails")
    try:
        with pytest.raises(RuntimeError, match="a listener's bug"):
            Source(slug="payments", name="Payments", url="http://127.0.0.1:9/status").add()
    finally:
        source_added.disconnect(dispatch_uid="tests.fails", sender=Source)
    # Neither the source nor what a receiver wrote for it: no source without its defaults.
    assert not Source.objects.filter(slug="payments").exists()
    assert not Team.objects.filter(slug="made-by-a-receiver").exists()


def test_it_refuses_to_announce_a_stored_source_again(announced: list[Any]) -> None:
    source = make_source("payments")
    with pytest.raises(ValueError, match="'payments' is already stored"):
        source.add()
    assert announced == []
