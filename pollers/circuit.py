"""The circuit breaker of a source: stop hammering an upstream that keeps failing.

closed --(threshold consecutive failures)--> open --(cool-down passed)--> half-open
half-open --(trial succeeds)--> closed;  half-open --(trial fails)--> open (cool-down restarts)

The state lives on the ``Source`` row (``circuit_state``, ``circuit_opened_at``), so every poller
process sees the same circuit; leases already make the half-open trial a single request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from pollers.models import Source

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True)
class CircuitPolicy:
    failure_threshold: int = 5
    cooldown: timedelta = timedelta(seconds=60)

    @classmethod
    def from_settings(cls) -> CircuitPolicy:
        return cls(
            failure_threshold=int(settings.POLLER_CIRCUIT_FAILURE_THRESHOLD),
            cooldown=timedelta(seconds=float(settings.POLLER_CIRCUIT_COOLDOWN)),
        )


@dataclass(frozen=True)
class CircuitState:
    state: str = CLOSED
    opened_at: datetime | None = None

    def admits(self, now: datetime, policy: CircuitPolicy) -> str:
        """ "poll" (closed), "trial" (the one request of half-open) or "skip" (open, cooling down)."""
        if self.state == CLOSED:
            return "poll"
        if self.state == OPEN and self.opened_at is not None and now - self.opened_at < policy.cooldown:
            return "skip"
        return "trial"

    def after_success(self) -> CircuitState:
        return CircuitState(CLOSED, None)

    def after_failure(self, consecutive_failures: int, now: datetime, policy: CircuitPolicy) -> CircuitState:
        """``consecutive_failures`` counts this failure too."""
        if self.state in (OPEN, HALF_OPEN):
            return CircuitState(OPEN, now)  # the trial failed: cool down again
        if consecutive_failures >= policy.failure_threshold:
            return CircuitState(OPEN, now)
        return self


def force_trial(source: Source) -> bool:
    """Skip the rest of an open circuit's cool-down: the next poll is its half-open trial.

    Conditional, so it never reopens nor closes anything: True when the circuit was open and now waits
    for its trial, False when it was not open (closed, or already half-open).
    """
    changed = Source.objects.filter(pk=source.pk, circuit_state=OPEN).update(circuit_state=HALF_OPEN)
    return changed == 1
