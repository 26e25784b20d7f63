"""One poll of one source, start to finish: circuit, fetch, store, health, then the signals.

``Poller.poll`` never raises for anything an upstream, the store or a listener does: every
problem ends as a failed ``PollOutcome``, recorded on the source's health fields. A failed poll
never reaches the store, so the latest snapshot only ever changes by a good document.

What happens next is for others: the poller announces a health change, a stored change, the
completed poll and each flush of its health batch through ``pollers.signals`` (realtime, alerting,
observability and boards listen there).
"""

from __future__ import annotations

import logging
import secrets
import threading
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.dispatch import Signal
from django.utils import timezone

from devops_insights.collector import detached
from metrics.extraction import parsed_from
from metrics.stores.base import MetricStore, PayloadError, StoreError
from metrics.stores.sql import sqlite_write_lock
from observability import tracing
from observability.context import bind_poll_id
from pollers import health, instrumentation
from pollers.availability import record_availability, sample_for
from pollers.circuit import CLOSED, HALF_OPEN, CircuitPolicy, CircuitState
from pollers.fetch import STOPPED, Fetcher, FetchResult
from pollers.health_batch import HealthBatch
from pollers.models import HEALTH_FIELDS, PollFailure, Source
from pollers.outcome import PollOutcome
from pollers.signals import batch_flushed, change_stored, health_changed, poll_completed

logger = logging.getLogger("pollers.engine")


def new_poll_id() -> str:
    return secrets.token_hex(8)  # 16 hex digits, as uuid4().hex[:16] gave, without building a UUID


class Poller:
    def __init__(
        self,
        *,
        store: MetricStore | None = None,
        fetcher: Fetcher | None = None,
        circuit_policy: CircuitPolicy | None = None,
        dry_run: bool = False,
        process_id: str = "",
        health_batch: HealthBatch | None = None,
    ) -> None:
        self._store = store
        # With a batch (the poll command, the loop): routine health writes are batched and a healthy
        # source is not re-read before its poll; whoever owns the batch calls ``flush_health``.
        self.health_batch = health_batch
        self.fetcher = fetcher or Fetcher()
        self.circuit_policy = circuit_policy or CircuitPolicy.from_settings()
        self.dry_run = dry_run
        self.process_id = process_id
        self._store_lock = threading.Lock()
        self._one_writer: bool | None = None  # whether _writing queues (SQLite): decided on first use
        # Sources whose health this poller last wrote as unhealthy (failures counted, or the circuit not
        # closed). The loop swaps in an instance read at its reload, which may have been read while a poll
        # that then failed was in flight: that instance looks healthy, and trusting it would send the next
        # good poll down the batched path, which writes only the routine fields and would leave the failure
        # count and the circuit as the failure wrote them. One poll of a source runs at a time, so a plain set.
        self._written_unhealthy: set[int] = set()

    @property
    def store(self) -> MetricStore:
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    from metrics.stores import get_store

                    self._store = get_store()
                    if self.health_batch is not None:
                        self._store.defer_seen_writes()  # flushed with the health batch
        return self._store

    def poll(self, source: Source, poll_id: str | None = None) -> PollOutcome:
        poll_id = poll_id or new_poll_id()
        # Every log line, store write and announced change of this poll carries its id, and its
        # spans (fetch, store, cache, and whatever listeners do) nest under one "poll" span.
        # traceparent goes upstream only when POLLER_PROPAGATE_TRACE says so (tracing on).
        with bind_poll_id(poll_id), self._traced(source, poll_id):
            outcome = self._poll(source, poll_id)
        if not self.dry_run:
            # Here, once, with the final outcome: a failure found after the announcements (a receiver
            # that raised) is counted as what the poll ended as.
            instrumentation.count_poll(outcome)
        return outcome

    @staticmethod
    def _traced(source: Source, poll_id: str) -> AbstractContextManager[Any]:
        if not tracing.enabled():
            return nullcontext()  # no tracer: no span to open, no trace context to send upstream
        stack = ExitStack()
        stack.enter_context(tracing.span("poll", source=source.slug, poll_id=poll_id))
        stack.enter_context(tracing.propagation(settings.POLLER_PROPAGATE_TRACE))
        return stack

    def _poll(self, source: Source, poll_id: str) -> PollOutcome:
        """Every exception inside the poll ends here as a failed poll of kind ``internal``, recorded like
        any failure (health fields, poll-failure log, ``health_changed``, the poll counters) and logged
        once with the poll id; ``PollerLoop`` keeps a last-resort handler for what cannot be recorded."""
        started = timezone.now()
        circuit = CircuitState(source.circuit_state, source.circuit_opened_at)
        outcome: PollOutcome | None = None
        upstream_failed = False  # only a failed fetch speaks of the upstream (and may trip its circuit)
        try:
            early = self._admit(source, poll_id, started)
            if isinstance(early, PollOutcome):
                return early
            circuit = early
            # --- issue 13: credentials, proxy/TLS and conditional requests live in pollers.conditional ---
            from pollers import conditional

            fetched = conditional.fetch(self.fetcher, lambda: self.store, source, poll_id)
            if fetched.error_kind == STOPPED:
                # A shutdown ended the wait for a request slot: no request went out, so there is nothing to
                # record as the upstream's (a failure, a failure log row, an availability sample counted down).
                logger.debug("poll %s %s skipped: the poller is stopping", poll_id, source.slug)
                return replace(self._outcome(source, poll_id, started, fetched), skipped=True, attempts=0)
            upstream_failed = not fetched.ok
            outcome = self._outcome(source, poll_id, started, fetched)
            if self.dry_run:
                return outcome
            if outcome.ok:
                outcome = self._record(source, outcome, fetched)
                conditional.remember(source, fetched, stored=outcome.ok)
            # --- end issue 13 ---
        except Exception as exc:
            if self.dry_run:
                raise
            outcome = internal_failure(
                outcome or PollOutcome(source=source.slug, poll_id=poll_id, started_at=started, ok=False, attempts=0),
                "the poll",
                exc,
            )
        return self._finish(source, outcome, circuit, upstream_failed=upstream_failed)

    def _finish(
        self, source: Source, outcome: PollOutcome, circuit: CircuitState, *, upstream_failed: bool
    ) -> PollOutcome:
        """Record the outcome, announce it, log it once; an exception here still ends as ``internal``."""
        late: list[str] = []  # exceptions once the poll's failure was recorded: logged with it, nothing more
        notified = False
        for attempt in range(2):
            raised: list[Exception] = []
            try:
                raised += self._update_health(source, outcome, circuit, upstream_failed=upstream_failed)
                written = True
            except Exception as exc:
                # Its traceback at debug level here, then kept detached (devops_insights.collector): kept whole, it
                # would close a cycle through this frame, and a database error is one already (Django's
                # DatabaseErrorWrapper keeps it in a local of a frame its traceback holds); either keeps the poll,
                # its document included, until the collector's next pass, rare in a poller.
                logger.debug("poll %s %s: writing its health raised", outcome.poll_id, source.slug, exc_info=exc)
                raised.append(detached(exc))
                written = False
            if not notified:
                notified = True  # receivers hear of a poll once, even when it is recorded again below
                if outcome.ok and outcome.record is not None and outcome.record.changed:
                    raised += self._announce(
                        change_stored,
                        source,
                        record=outcome.record,
                        fetched_at=outcome.started_at,
                        poll_id=outcome.poll_id,
                        # A batch promises a later batch_flushed, so receivers may hold their writes for it.
                        batched=self.health_batch is not None,
                    )
                raised += self._notify(source, outcome)
            if not raised:
                break
            if attempt == 0 and (outcome.ok or not written):
                # The poll counted as good, or its failure is not written: record it as "internal", once more.
                outcome = internal_failure(outcome, "recording or announcing the poll", raised[0])
                late += [_describe(exc) for exc in raised[1:]]
                continue
            late += [_describe(exc) for exc in raised]
            break
        self._log(source, outcome, late)
        return outcome

    def _admit(self, source: Source, poll_id: str, started: datetime) -> PollOutcome | CircuitState:
        """The source's fresh health and the circuit's decision: a skipped outcome, or the circuit to poll under."""
        log = {"poll_id": poll_id, "source": source.slug}
        if not self.dry_run and not self._trusted_healthy(source):
            try:
                source.refresh_from_db(fields=list(HEALTH_FIELDS))
            except Source.DoesNotExist:
                # Deleted since the scheduler loaded it: nothing to poll, nothing to tell anyone.
                return PollOutcome(
                    source=source.slug,
                    poll_id=poll_id,
                    started_at=started,
                    ok=False,
                    skipped=True,
                    error_kind="deleted",
                    error_message="the source was deleted",
                )
        circuit = CircuitState(source.circuit_state, source.circuit_opened_at)
        decision = circuit.admits(started, self.circuit_policy)
        if decision == "skip" and not self.dry_run:
            logger.debug("poll %s %s skipped: circuit open", poll_id, source.slug, extra=log)
            outcome = PollOutcome(
                source=source.slug,
                poll_id=poll_id,
                started_at=started,
                ok=False,
                skipped=True,
                error_kind="circuit_open",
                error_message="circuit open: cooling down before the next trial",
            )
            for exc in self._notify(source, outcome):
                logger.error("poll %s %s: %s", poll_id, source.slug, _describe(exc), extra=log)
            return outcome
        if decision == "trial" and source.circuit_state != HALF_OPEN and not self.dry_run:
            source.circuit_state = HALF_OPEN
            Source.objects.filter(pk=source.pk).update(circuit_state=HALF_OPEN)
        return circuit

    def _trusted_healthy(self, source: Source) -> bool:
        """Whether the in-memory health fields may stand in for a re-read before the poll.

        Only with a batch (one long-lived poller owns its sources' instances) and only for a healthy
        source, whose poll cannot depend on them: the re-read is for counting failures and the circuit.
        """
        return (
            self.health_batch is not None
            and not source.consecutive_failures
            and source.circuit_state == CLOSED
            and source.circuit_opened_at is None
            and source.pk not in self._written_unhealthy
        )

    def flush_health(self, *, only_if_due: bool = False) -> int:
        """Write the batched routine health fields, then send ``batch_flushed``; never raises (the times are
        written again next poll)."""
        batch = self.health_batch
        if batch is None or (only_if_due and not batch.due()):
            return 0
        samples = batch.take_samples()  # written below whatever happens to the health rows: bounded
        written = 0
        try:
            with self._writing():
                written = batch.flush()
            self.store.flush()  # unchanged sources' last-seen times, held back by the store the same way
        except Exception as exc:
            logger.warning("writing %d batched health updates failed: %s: %s", len(batch), type(exc).__name__, exc)
        if samples:
            try:
                with self._writing():
                    self.store.record_poll_outcomes(samples)
            except Exception as exc:
                # Dropped, not retried, as for one poll (MetricStore.record_poll_outcome).
                logger.warning(
                    "counting the availability of %d polls failed: %s: %s", len(samples), type(exc).__name__, exc
                )
        # Even after a failed write above: what receivers held back for this flush is theirs to write.
        self._announce_flushed()
        return written

    @staticmethod
    def _announce_flushed() -> None:
        """Send ``batch_flushed``; a receiver's exception is logged here, as it belongs to no poll to fail."""
        for receiver, response in batch_flushed.send_robust(sender=Source):
            if isinstance(response, Exception):
                logger.warning(
                    "batch_flushed receiver %s raised: %s: %s",
                    getattr(receiver, "__qualname__", receiver),
                    type(response).__name__,
                    response,
                )

    def _writing(self) -> AbstractContextManager[Any]:
        """On SQLite, one writer at a time per process, for the poller's own writes (health rows, failures).

        SQLite allows one writer; its busy handler makes the others sleep and retry, which at 16
        threads costs more than the writes. Queueing on a Python lock instead keeps the write rate
        of a single thread. It is the SQL store's lock of the same database (reentrant), so the store's
        writes queue on it too, while ``store.record`` takes it itself only to write: an unchanged poll
        and a change's hashing and extraction run beside another thread's write. Other databases write
        concurrently.
        """
        if self._one_writer is None:
            self._one_writer = self.store.backend == "sql" and connection.vendor == "sqlite"
        return sqlite_write_lock(connection.alias) if self._one_writer else nullcontext()

    # --- steps --------------------------------------------------------------------------------
    def _outcome(self, source: Source, poll_id: str, started: datetime, fetched: FetchResult) -> PollOutcome:
        return PollOutcome(
            source=source.slug,
            poll_id=poll_id,
            started_at=started,
            ok=fetched.ok,
            latency_ms=fetched.latency_ms,
            status_code=fetched.status_code,
            payload=fetched.payload,
            error_kind=fetched.error_kind,
            error_message=fetched.error_message,
            attempts=fetched.attempts,
            retry_after=fetched.retry_after,
        )

    def _record(self, source: Source, outcome: PollOutcome, fetched: FetchResult) -> PollOutcome:
        assert outcome.payload is not None
        meta: dict[str, Any] = {
            "poll_id": outcome.poll_id,
            "latency_ms": round(outcome.latency_ms or 0.0, 2),
            "status_code": outcome.status_code,
            "attempts": outcome.attempts,
            "body_bytes": fetched.body_bytes,
        }
        if self.process_id:
            meta["poller"] = self.process_id
        try:
            # The same body as the source's last poll (the bulk of polls) is not serialised and hashed again.
            with parsed_from(outcome.payload, fetched.body_digest):
                record = self.store.record(source.spec(), outcome.payload, outcome.started_at, meta)
                if self.health_batch is None and not record.changed:
                    # The store's deferral of last-seen writes is process-wide: a poller with a batch (the
                    # poll command, the loop) turns it on and flushes it. A poller without a batch has
                    # nobody to flush for it, so its unchanged poll (a 304 too) writes last_seen_at now.
                    # No statement when nothing is deferred.
                    self.store.flush()
        except PayloadError as exc:
            return replace(outcome, ok=False, error_kind="bad_payload", error_message=str(exc)[:300])
        except StoreError as exc:
            return replace(outcome, ok=False, error_kind="store_error", error_message=str(exc)[:300])
        # Anything else the store raises is a bug or a surprise: _poll records it as "internal".
        return replace(outcome, record=record)

    def _update_health(
        self, source: Source, outcome: PollOutcome, circuit: CircuitState, *, upstream_failed: bool
    ) -> list[Exception]:
        """Write the health fields and the failure log, announce a health change; the receivers' exceptions."""
        now = timezone.now()
        before = health.PollHealth.of(source)
        changes: dict[str, Any] = {
            "last_polled_at": now,
            "last_latency_ms": outcome.latency_ms,
            "last_status_code": outcome.status_code,
        }
        if outcome.ok:
            changes.update(last_success_at=now, consecutive_failures=0, circuit_state=CLOSED, circuit_opened_at=None)
        else:
            failures = before.consecutive_failures + 1
            changes.update(
                last_error_at=now,
                last_error_kind=outcome.error_kind[:40],
                last_error_message=outcome.error_message[:500],
                consecutive_failures=failures,
            )
            # A store outage or our own failure after a good fetch says nothing about the upstream: neither
            # trips the upstream's circuit.
            if outcome.error_kind != "store_error" and (upstream_failed or outcome.error_kind != "internal"):
                after = circuit.after_failure(failures, now, self.circuit_policy)
                changes.update(circuit_state=after.state, circuit_opened_at=after.opened_at)
        routine = outcome.ok and before.consecutive_failures == 0 and self._trusted_healthy(source)
        if routine and self.health_batch is not None:
            if self.health_batch.add(source.pk, changes):
                self.flush_health()
        else:
            pending = self.health_batch.take(source.pk) if self.health_batch is not None else {}
            with self._writing():
                Source.objects.filter(pk=source.pk).update(**{**pending, **changes})
        for name, value in changes.items():
            setattr(source, name, value)
        if source.consecutive_failures or source.circuit_state != CLOSED:
            self._written_unhealthy.add(source.pk)
        else:
            self._written_unhealthy.discard(source.pk)
        if not outcome.ok:
            self._record_failure(source, outcome, now)

        status = health.change(before, health.PollHealth.of(source))
        if status is not None:
            detail = (
                {"after_failures": before.consecutive_failures}
                if status == health.RECOVERED
                else self._failure_detail(source, outcome)
            )
            return self._announce(health_changed, source, status=status, detail=detail)
        return []

    def _record_failure(self, source: Source, outcome: PollOutcome, now: datetime) -> None:
        """Add the failure to the source's bounded log; the log is a view (the health fields hold the
        failure), so losing a row is logged and fine."""
        try:
            with self._writing():
                PollFailure.record(
                    source,
                    occurred_at=now,
                    kind=outcome.error_kind,
                    message=outcome.error_message,
                    status_code=outcome.status_code,
                    latency_ms=outcome.latency_ms,
                    poll_id=outcome.poll_id,
                )
        except Exception as exc:
            logger.warning(
                "poll %s %s: recording the failure failed: %s: %s",
                outcome.poll_id,
                source.slug,
                type(exc).__name__,
                exc,
            )

    @staticmethod
    def _failure_detail(source: Source, outcome: PollOutcome) -> dict[str, Any]:
        return {
            "error_kind": outcome.error_kind,
            "error_message": outcome.error_message,
            "consecutive_failures": source.consecutive_failures,
            "poll_id": outcome.poll_id,
        }

    def _notify(self, source: Source, outcome: PollOutcome) -> list[Exception]:
        # Every counted poll ends here, up or down: count it before the signal, so receivers see it
        # (with a batch: queued before the signal, written with the batch at most max_age later).
        if self.health_batch is not None:
            sample = sample_for(outcome)
            if sample is not None and self.health_batch.add_sample(outcome.source, sample):
                self.flush_health()
        else:
            with self._writing():
                record_availability(self.store, outcome)
        return self._announce(poll_completed, source, outcome=outcome)

    @staticmethod
    def _announce(signal: Signal, source: Source, /, **arguments: Any) -> list[Exception]:
        """Send a ``pollers.signals`` signal to every receiver (one's exception stops none of the others)
        and return the exceptions, each tagged with its receiver for the poll's one log line."""
        raised: list[Exception] = []
        for receiver, response in signal.send_robust(sender=Source, source=source, **arguments):
            if isinstance(response, Exception):
                name = getattr(signal, "name", "signal")
                response.add_note(f"{name} receiver {getattr(receiver, '__qualname__', receiver)}")
                raised.append(response)
        return raised

    def _log(self, source: Source, outcome: PollOutcome, late: list[str] | None = None) -> None:
        extra = {"poll_id": outcome.poll_id, "source": source.slug, "latency_ms": outcome.latency_ms}
        if outcome.ok:
            changed = bool(outcome.record and outcome.record.changed)
            # Unchanged polls are the bulk at scale: debug. Changes and failures are news.
            logger.log(
                logging.INFO if changed else logging.DEBUG,
                "poll %s %s ok in %.0fms%s",
                outcome.poll_id,
                source.slug,
                outcome.latency_ms or 0,
                " (changed)" if changed else "",
                extra=extra,
            )
        else:
            # Our own failures are errors; an upstream's are warnings. One line per poll either way.
            logger.log(
                logging.ERROR if outcome.error_kind == "internal" or late else logging.WARNING,
                "poll %s %s failed: %s: %s (attempts %d)%s",
                outcome.poll_id,
                source.slug,
                outcome.error_kind,
                outcome.error_message,
                outcome.attempts,
                "".join(f"; then {text}" for text in late or []),
                extra=extra,
            )


def _describe(exc: BaseException) -> str:
    """``ValueError: text (receiver name)``, the exception in one line: its type, message and receiver."""
    where = "; ".join(getattr(exc, "__notes__", []))
    return f"{type(exc).__name__}: {exc}" + (f" ({where})" if where else "")


def internal_failure(outcome: PollOutcome, where: str, exc: BaseException) -> PollOutcome:
    """``outcome`` as a failed poll of kind ``internal``: ``exc`` in one line; its traceback at debug level (where an
    exception is kept detached, its traceback was logged where it was caught: a signal receiver's by the signal)."""
    logger.debug("poll %s %s: %s raised", outcome.poll_id, outcome.source, where, exc_info=exc)
    message = f"{where} failed: {_describe(exc)}"
    return replace(outcome, ok=False, error_kind="internal", error_message=message[:500])
