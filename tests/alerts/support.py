"""Drive alerting the way the poller does: real Source rows, real PollOutcome values, the real signal.

Until the pollers land on main these stand in for the poll loop; the integration test in
tests/alerts/test_through_poller.py runs the real one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.models import AlertRule, NotificationChannel
from metrics.stores.base import RecordResult
from pollers.models import Source
from pollers.outcome import PollOutcome
from pollers.signals import poll_completed

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)


def make_rule(**fields: Any) -> AlertRule:
    channels = fields.pop("channels", [])
    fields.setdefault("name", "rule")
    rule = AlertRule(**fields)
    rule.full_clean()
    rule.save()
    if channels:
        rule.channels.set(channels)
    return rule


def make_channel(**fields: Any) -> NotificationChannel:
    fields.setdefault("name", f"channel-{next(_ids)}")
    channel = NotificationChannel(**fields)
    channel.full_clean()
    channel.save()
    return channel


def payload_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()  # noqa: S324 - content id


class PollDriver:
    """One source's polls, one interval apart, with the health fields the poller would set."""

    def __init__(self, source: Source, start: datetime = START, interval: float = 30.0) -> None:
        self.source = source
        self.at = start
        self.interval = timedelta(seconds=interval)
        self.sequence = 0
        self.last_hash = ""

    def _tick(self) -> datetime:
        at = self.at
        self.at = at + self.interval
        return at

    def ok(self, payload: dict[str, Any] | None = None, **metrics: float) -> PollOutcome:
        at = self._tick()
        payload = payload if payload is not None else {"status": "ok", "metrics": metrics}
        digest = payload_hash(payload)
        changed = digest != self.last_hash
        if changed:
            self.sequence += 1
        self.last_hash = digest
        src = self.source
        src.last_polled_at = at
        src.last_success_at = at
        src.consecutive_failures = 0
        src.circuit_state = Source.Circuit.CLOSED
        src.save()
        outcome = PollOutcome(
            source=src.slug,
            poll_id=f"poll-{next(_ids)}",
            started_at=at,
            ok=True,
            latency_ms=12.0,
            status_code=200,
            record=RecordResult(changed=changed, hash=digest, metrics=dict(metrics), sequence=self.sequence, diff=[]),
            payload=payload,
        )
        return self.send(outcome)

    def fail(self, kind: str = "timeout", circuit: str | None = None, skipped: bool = False) -> PollOutcome:
        at = self._tick()
        src = self.source
        src.last_polled_at = at
        src.last_error_at = at
        src.last_error_kind = kind
        if not skipped:
            src.consecutive_failures += 1
        if circuit is not None:
            src.circuit_state = circuit
        src.save()
        outcome = PollOutcome(
            source=src.slug,
            poll_id=f"poll-{next(_ids)}",
            started_at=at,
            ok=False,
            error_kind=kind,
            error_message="upstream did not answer",
            skipped=skipped,
        )
        return self.send(outcome)

    def send(self, outcome: PollOutcome) -> PollOutcome:
        poll_completed.send(sender=PollDriver, source=self.source, outcome=outcome)
        return outcome
