"""The circuit breaker's state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pollers.circuit import CLOSED, HALF_OPEN, OPEN, CircuitPolicy, CircuitState

POLICY = CircuitPolicy(failure_threshold=3, cooldown=timedelta(seconds=60))
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_it_opens_after_the_threshold_of_consecutive_failures() -> None:
    state = CircuitState()
    for failures in (1, 2):
        state = state.after_failure(failures, T0, POLICY)
        assert state.state == CLOSED
    state = state.after_failure(3, T0, POLICY)
    assert (state.state, state.opened_at) == (OPEN, T0)


def test_it_skips_while_cooling_down_then_allows_one_trial() -> None:
    state = CircuitState(OPEN, T0)
    assert state.admits(T0 + timedelta(seconds=59), POLICY) == "skip"
    assert state.admits(T0 + timedelta(seconds=60), POLICY) == "trial"
    assert CircuitState(HALF_OPEN, T0).admits(T0, POLICY) == "trial"
    assert CircuitState().admits(T0, POLICY) == "poll"


def test_it_closes_on_a_successful_trial_and_reopens_on_a_failed_one() -> None:
    later = T0 + timedelta(seconds=61)
    assert CircuitState(HALF_OPEN, T0).after_success() == CircuitState(CLOSED, None)
    reopened = CircuitState(HALF_OPEN, T0).after_failure(9, later, POLICY)
    assert (reopened.state, reopened.opened_at) == (OPEN, later)
