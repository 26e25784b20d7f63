"""This process's count of its recent polls (alerts.recent_polls): classified as the store counts them, and
silent (None) about minutes it may not have seen whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts import recent_polls
from pollers.outcome import PollOutcome

MINUTE = timedelta(minutes=1)
T0 = datetime(2026, 11, 29, 10, 0, 30, tzinfo=UTC)


def count(at: datetime, *, ok: bool = True, error_kind: str = "", source: str = "us-east") -> None:
    recent_polls.count(PollOutcome(source=source, poll_id="p", started_at=at, ok=ok, error_kind=error_kind))


def test_it_classifies_a_poll_as_the_store_counts_it() -> None:
    count(T0 - 5 * MINUTE, source="warm-up")  # counting since before the minutes asked about
    count(T0)  # up
    count(T0, ok=False, error_kind="timeout")  # down
    count(T0, ok=False, error_kind="store_error")  # the upstream answered: up
    count(T0, ok=False, error_kind="circuit_open")  # believed down: down
    count(T0, ok=False, error_kind="deleted")  # not counted
    count(T0 - MINUTE, ok=False, error_kind="http_503")
    assert recent_polls.minutes("us-east", T0.replace(second=0)) == ((1, 0), (4, 2))
    assert recent_polls.minutes("eu-west", T0.replace(second=0)) == ((0, 0), (0, 0))  # seen none: there were none


def test_it_vouches_only_for_minutes_after_the_first_it_counted() -> None:
    minute = T0.replace(second=0)
    assert recent_polls.minutes("us-east", minute) is None  # nothing counted yet
    count(T0)  # the first count: polls earlier in this minute may have gone unseen
    assert recent_polls.minutes("us-east", minute) is None
    assert recent_polls.minutes("us-east", minute + MINUTE) is None  # its previous minute is that one
    count(T0 + 2 * MINUTE)
    assert recent_polls.minutes("us-east", minute + 2 * MINUTE) == ((0, 0), (1, 1))


def test_it_says_nothing_about_minutes_older_than_it_keeps() -> None:
    count(T0 - 10 * MINUTE, source="warm-up")
    for k in range(5):
        count(T0 + k * MINUTE)
    minute = T0.replace(second=0)
    assert recent_polls.minutes("us-east", minute + 4 * MINUTE) == ((1, 1), (1, 1))
    assert recent_polls.minutes("us-east", minute + MINUTE) is None  # its previous minute is no longer kept


def test_forgetting_starts_anew() -> None:
    count(T0 - 10 * MINUTE)
    count(T0)
    assert recent_polls.minutes("us-east", T0.replace(second=0)) is not None
    recent_polls.forget()
    assert recent_polls.minutes("us-east", T0.replace(second=0)) is None
    count(T0)
    assert recent_polls.minutes("us-east", T0.replace(second=0)) is None
