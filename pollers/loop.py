"""The ``poll --loop`` scheduler: every source at its own interval, shared with other pollers.

The main thread only schedules: it pops due (source, slot) pairs from a heap and hands them to a
thread pool, so a slow or hanging source holds one worker, never the schedule. A worker claims
the slot's lease (``pollers.leases``) and polls only if it won; another process may have won.
The main thread also reloads the source list, heartbeats into ``PollerProcess``, extends the
leases of in-flight polls, prints a progress line now and then and, when asked (``retention``,
as ``manage.py poll --loop`` does), gives the metric retention step its turn
(``metrics.lifecycle.maintenance.tick``: rollups and pruning, in the background, one poller at a time).

Signal handlers only set ``shutdown``; the loop then stops scheduling, lets in-flight polls
finish (backoff waits are cut short), releases their leases and marks the process stopped.
"""

from __future__ import annotations

import heapq
import logging
import os
import random
import secrets
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import close_old_connections

from metrics.lifecycle import maintenance
from observability.instruments import LEASE_CLAIMS
from pollers.engine import Poller
from pollers.leases import Lease, LeaseBackend
from pollers.models import PollerProcess, Source
from pollers.outcome import PollOutcome
from pollers.schedule import phase, slot_at, slot_start
from pollers.workers import handing_back, pool

logger = logging.getLogger("pollers.loop")


def new_process_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class Scheduled:
    source: Source
    interval: float
    offset: float
    generation: int
    not_before: float = 0.0  # a 429's Retry-After pushes the next poll past this time


class PollerLoop:
    def __init__(
        self,
        poller: Poller,
        leases: LeaseBackend,
        *,
        concurrency: int,
        slugs: list[str] | None = None,
        jitter_fraction: float | None = None,
        heartbeat_seconds: float | None = None,
        reload_seconds: float | None = None,
        progress_seconds: float | None = None,
        process_id: str | None = None,
        write: Callable[[str], None] | None = None,
        retention: bool = False,
    ) -> None:
        self.poller = poller
        self.leases = leases
        self.concurrency = concurrency
        self.slugs = slugs
        self.jitter_fraction = settings.POLLER_JITTER_FRACTION if jitter_fraction is None else jitter_fraction
        self.heartbeat_seconds = heartbeat_seconds or settings.POLLER_HEARTBEAT_SECONDS
        self.reload_seconds = reload_seconds or settings.POLLER_RELOAD_SECONDS
        self.progress_seconds = progress_seconds or settings.POLLER_PROGRESS_SECONDS
        self.process_id = process_id or poller.process_id or new_process_id()
        self.write = write or (lambda line: logger.info("%s", line))
        self.retention = retention
        self.shutdown = False

        self.scheduled: dict[str, Scheduled] = {}
        self.heap: list[tuple[float, str, int, int]] = []  # (due time, slug, slot, generation)
        self.generations = 0
        self.in_flight: dict[str, Future[None]] = {}
        # Sources gone from the schedule that may have been deleted: their stored metrics are forgotten again
        # once no poll of theirs is in flight (see forget_deleted).
        self.left: set[str] = set()
        self.held: dict[str, Lease] = {}
        self.lock = threading.Lock()
        self.polls_done = 0
        self.window: Counter[str] = Counter()  # outcomes since the last progress line
        self.lost_claims = 0
        # (slug, seconds a poll started after it was due): the scheduling drift, for progress and benchmarks.
        self.drift: deque[tuple[str, float]] = deque(maxlen=10000)

    # --- the loop -------------------------------------------------------------------------------
    def run(self) -> None:
        process = PollerProcess.register(self.process_id, socket.gethostname(), os.getpid(), self.leases.name)
        self.write(
            f"poller {self.process_id} started: concurrency {self.concurrency}, leases {self.leases.name}"
            + ("" if self.leases.name == "redis" else " (no REDIS_URL: run only ONE poller)")
        )
        executor = pool(self.concurrency)  # for the loop's whole life, threads and connections (pollers/workers.py)
        next_reload = next_beat = next_extend = 0.0
        next_progress = time.monotonic() + self.progress_seconds
        try:
            while not self.shutdown:
                monotonic = time.monotonic()
                if monotonic >= next_reload:
                    self.reload()
                    next_reload = monotonic + self.reload_seconds
                self.dispatch(executor)
                if monotonic >= next_extend:
                    self.extend_leases()
                    next_extend = monotonic + 1.0
                if monotonic >= next_beat:
                    self.heartbeat(process)
                    next_beat = monotonic + self.heartbeat_seconds
                if monotonic >= next_progress:
                    self.progress()
                    next_progress = monotonic + self.progress_seconds
                if self.retention:
                    maintenance.tick()  # returns at once; a due step runs in its own thread
                self.poller.flush_health(only_if_due=True)  # a quiet second still writes the last batch
                self.sleep_until_due()
        finally:
            self.write(f"poller {self.process_id} stopping: finishing {len(self.in_flight)} in-flight polls")
            self.poller.fetcher.stop.set()  # backoff and rate-limit waits end now
            executor.shutdown(wait=True, cancel_futures=True)
            with self.lock:
                leftover = list(self.held.values())
                self.held.clear()
            for lease in leftover:  # a worker that died mid-poll: never leave its lease to expire
                self._release(lease)
            self.poller.flush_health()
            try:
                process.mark_stopped(self.polls_done)
            except Exception:
                logger.exception("could not mark poller %s stopped", self.process_id)
            self.poller.fetcher.close()
            close_old_connections()
            self.write(f"poller {self.process_id} stopped after {self.polls_done} polls")

    def sleep_until_due(self) -> None:
        now = time.time()
        wait = 0.2
        if self.heap:
            wait = min(wait, max(0.0, self.heap[0][0] - now))
        time.sleep(max(0.005, wait))

    # --- sources and the schedule -----------------------------------------------------------------
    def reload(self) -> None:
        """Pick up added, removed, disabled and re-timed sources without a restart."""
        try:
            queryset = Source.objects.enabled()
            if self.slugs:
                queryset = queryset.filter(slug__in=self.slugs)
            sources = {source.slug: source for source in queryset}
        except Exception:
            logger.exception("could not load sources; keeping the current schedule")
            return
        for slug in list(self.scheduled):
            if slug not in sources:
                del self.scheduled[slug]  # its heap entries are dropped when they come due
                self.left.add(slug)
        self.forget_deleted()
        now = time.time()
        for slug, source in sources.items():
            current = self.scheduled.get(slug)
            interval = float(source.interval_seconds)
            if current is not None and current.interval == interval:
                current.source = source  # new URL, headers or timeout apply from the next poll
                continue
            self.generations += 1
            entry = Scheduled(source, interval, phase(slug, interval), self.generations)
            if current is not None:
                entry.not_before = current.not_before
            self.scheduled[slug] = entry
            # Start with the current slot, so a new poller (or source) polls at once instead of waiting
            # up to an interval (the slot lease stops it if another poller already had it) - unless the
            # slot is nearly over: then the next one, rather than two polls moments apart.
            slot = slot_at(now, interval, entry.offset)
            if slot_start(slot + 1, interval, entry.offset) - now < interval / 4:
                slot += 1
            self.push(slug, slot, earliest=now)

    def forget_deleted(self) -> None:
        """Delete again the stored metrics of sources deleted since they were scheduled, once their polls landed.

        Deleting a source deletes its metrics (the API, the admin, a configuration apply), but this process
        polls from the instances it loaded: a poll in flight at the deletion, or one whose slot came before
        this reload noticed it, stores the document again, and this process's store still remembers the
        source's last document, so it writes a new latest row and history. Left there, a source created
        later with the same slug would show them as its own. A source that was only disabled, or that
        another poller's configuration still has, is left alone.
        """
        waiting = {slug for slug in self.left if slug not in self.in_flight}
        if not waiting:
            return
        try:
            existing = set(Source.objects.filter(slug__in=waiting).values_list("slug", flat=True))
            for slug in sorted(waiting - existing):
                self.poller.store.delete_source(slug)
                logger.info("forgot the stored metrics of deleted source %s once its polls had landed", slug)
        except Exception:
            logger.exception("could not forget the stored metrics of deleted sources; trying again at the next reload")
            return
        self.left -= waiting

    def push(self, slug: str, slot: int, earliest: float | None = None) -> None:
        entry = self.scheduled[slug]
        jitter = random.uniform(0, self.jitter_fraction * entry.interval)  # noqa: S311 - spread, not security
        due = slot_start(slot, entry.interval, entry.offset) + jitter
        if earliest is not None and due < earliest:
            due = earliest + jitter  # a slot already under way: claim it now rather than "late"
        heapq.heappush(self.heap, (due, slug, slot, entry.generation))

    def dispatch(self, executor: Executor) -> None:
        now = time.time()
        while self.heap and self.heap[0][0] <= now and not self.shutdown:
            if len(self.in_flight) >= self.concurrency:
                return  # every worker is busy: due polls wait for the first free one
            due, slug, slot, generation = heapq.heappop(self.heap)
            entry = self.scheduled.get(slug)
            if entry is None or entry.generation != generation:
                continue  # removed, disabled or re-timed since this entry was pushed
            current = slot_at(now, entry.interval, entry.offset)
            if current > slot + 1:
                # Far behind (the process was suspended, or every worker was busy for long):
                # skip to the next slot rather than poll a stale one another poller may have had.
                self.push(slug, current + 1)
                continue
            self.push(slug, slot + 1)
            if slug in self.in_flight or now < entry.not_before:
                continue  # still polling the previous slot here, or the upstream asked us to wait
            future = executor.submit(self.run_slot, entry.source, slot, entry.interval, due)
            self.in_flight[slug] = future
            # Out of flight when the poll ends, whoever gets there first. A worker can run the whole poll before
            # this thread resumes from submit (on a busy machine it may wait that long for the interpreter), so
            # the worker cannot be the one to remove it: its removal would come before this entry, which would
            # then stay, and the source would never be polled again. A finished future runs the callback at once.
            future.add_done_callback(partial(self._landed, slug))

    # --- one claimed poll, in a worker thread -----------------------------------------------------
    def run_slot(self, source: Source, slot: int, interval: float, due: float | None = None) -> None:
        if due is not None:
            self.drift.append((source.slug, max(0.0, time.time() - due)))
        with handing_back():
            self._claim_and_poll(source, slot, interval)

    def _landed(self, slug: str, future: Future[None]) -> None:
        """A poll's end (its future done): the source may be dispatched again."""
        if self.in_flight.get(slug) is future:
            self.in_flight.pop(slug, None)

    def _claim_and_poll(self, source: Source, slot: int, interval: float) -> None:
        try:
            lease = self.leases.claim(source.slug, slot, slot_ttl=2 * interval, lease_ttl=self.lease_ttl(interval))
        except Exception as exc:
            # Without the lease store nobody can tell whether another poller has this slot: skip it.
            logger.error("%s: cannot claim slot %d: %s", source.slug, slot, type(exc).__name__)
            LEASE_CLAIMS.labels(result="error").inc()
            return
        LEASE_CLAIMS.labels(result="acquired" if lease else "contended").inc()
        if lease is None:
            with self.lock:
                self.lost_claims += 1
            return
        with self.lock:
            self.held[source.slug] = lease
        try:
            outcome = self.poller.poll(source)
            self.count(outcome)
            if outcome.retry_after:
                entry = self.scheduled.get(source.slug)
                if entry is not None:
                    entry.not_before = time.time() + outcome.retry_after
        except Exception:
            logger.exception("%s: the poll crashed", source.slug)
            self.count(None)
        finally:
            with self.lock:
                self.held.pop(source.slug, None)
            self._release(lease)

    @staticmethod
    def lease_ttl(interval: float) -> float:
        # Short enough that a killed poller's lease is gone before the source's next slot,
        # long enough to survive between two extensions (every second) of a live poll.
        return max(2.0, min(interval / 2, 30.0))

    def extend_leases(self) -> None:
        with self.lock:
            held = list(self.held.values())
        for lease in held:
            entry = self.scheduled.get(lease.slug)
            try:
                if not self.leases.extend(lease, self.lease_ttl(entry.interval if entry else 30.0)):
                    with self.lock:
                        still_held = self.held.get(lease.slug) is lease
                    # A poll that ended since the snapshot above released its lease: nothing was lost.
                    if still_held:
                        logger.warning("%s: lease of slot %d lost while polling", lease.slug, lease.slot)
                        LEASE_CLAIMS.labels(result="lost").inc()
            except Exception as exc:
                logger.warning("%s: cannot extend lease: %s", lease.slug, type(exc).__name__)

    def _release(self, lease: Lease) -> None:
        try:
            self.leases.release(lease)
        except Exception as exc:  # it expires on its own within its TTL
            logger.warning("%s: cannot release lease: %s", lease.slug, type(exc).__name__)

    # --- bookkeeping ------------------------------------------------------------------------------
    def count(self, outcome: PollOutcome | None) -> None:
        with self.lock:
            self.polls_done += 1
            if outcome is None:
                self.window["crashed"] += 1
            elif outcome.skipped:
                self.window["skipped"] += 1
            elif outcome.ok:
                self.window["ok"] += 1
                if outcome.record is not None and outcome.record.changed:
                    self.window["changed"] += 1
            else:
                self.window["failed"] += 1

    def heartbeat(self, process: PollerProcess) -> None:
        try:
            with self.lock:
                held, done = len(self.held), self.polls_done
            process.beat(held, done)
        except Exception:
            logger.exception("heartbeat of poller %s failed", self.process_id)

    def progress(self) -> None:
        with self.lock:
            window, self.window = self.window, Counter()
            lost, self.lost_claims = self.lost_claims, 0
        recent = sorted(d for _, d in list(self.drift)[-1000:])
        p95 = recent[int(len(recent) * 0.95) - 1] if recent else 0.0
        self.write(
            f"poller {self.process_id}: {sum(window.values()) - window['changed']} polls in the last "
            f"{self.progress_seconds:g}s (ok {window['ok']}, changed {window['changed']}, failed {window['failed']}, "
            f"circuit open {window['skipped']}), {lost} slots taken by other pollers, "
            f"{len(self.in_flight)} in flight, {len(self.scheduled)} sources, p95 start drift {p95 * 1000:.0f} ms"
        )
