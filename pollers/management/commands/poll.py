"""``manage.py poll``: poll sources once (a summary table) or forever (``--loop``)."""

from __future__ import annotations

import json
import logging
import signal
import time
from concurrent.futures import wait
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from devops_insights.collector import POLLER as POLLER_COLLECTOR
from devops_insights.collector import settle as settle_collector
from devops_insights.stack_dump import install as install_stack_dump
from observability.exposition import start_poller_metrics_server
from pollers.engine import Poller
from pollers.fetch import Fetcher
from pollers.health_batch import HealthBatch
from pollers.leases import build_lease_backend
from pollers.loop import PollerLoop, new_process_id
from pollers.models import Source
from pollers.outcome import PollOutcome
from pollers.ratelimit import build_rate_limiter
from pollers.workers import poll_and_hand_back, pool

logger = logging.getLogger("pollers.command")
PROGRESS_EVERY = 10.0  # seconds between progress lines of a long one-off run


class Command(BaseCommand):
    help = (
        "Poll every enabled source once and print a summary (exit status 1 if any poll failed), "
        "or with --loop keep polling each source at its interval until SIGTERM/SIGINT."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source",
            action="append",
            dest="sources",
            metavar="SLUG",
            help="Poll only this source (repeatable). Named sources are polled even when disabled, except in --loop.",
        )
        parser.add_argument("--loop", action="store_true", help="Keep polling each source at its own interval.")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help=f"Polls in flight at once (default POLLER_CONCURRENCY={settings.POLLER_CONCURRENCY}).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Fetch, validate and extract, print the result; store, publish and record nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.shutdown = False
        self.next_progress = PROGRESS_EVERY
        self.verbosity = int(options["verbosity"])
        concurrency = settings.POLLER_CONCURRENCY if options["concurrency"] is None else options["concurrency"]
        if not 1 <= concurrency <= 512:
            raise CommandError("--concurrency must be between 1 and 512")
        if options["loop"] and options["dry_run"]:
            raise CommandError("--dry-run polls once; it cannot be combined with --loop")
        slugs: list[str] = options["sources"] or []
        if slugs:
            known = set(Source.objects.filter(slug__in=slugs).values_list("slug", flat=True))
            unknown = sorted(set(slugs) - known)
            if unknown:
                raise CommandError(f"unknown source: {', '.join(unknown)}")
        # Served from startup (when POLLER_METRICS_PORT is set), so a liveness probe on the port
        # passes before the first poll, or with no source to poll at all.
        start_poller_metrics_server()
        if self.verbosity >= 2:
            logging.getLogger("pollers").setLevel(logging.DEBUG)
        elif self.verbosity == 0:
            logging.getLogger("pollers").setLevel(logging.WARNING)

        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        install_stack_dump()  # kill -USR1: where each thread is, when a poll seems stuck (docs/operations.md)
        fetcher = Fetcher(rate_limiter=build_rate_limiter())
        process_id = new_process_id()
        poller = Poller(fetcher=fetcher, dry_run=options["dry_run"], process_id=process_id, health_batch=HealthBatch())
        # Everything start-up loaded lives as long as the command: out of the collector's reach, and young
        # collections less often (devops_insights/collector.py).
        settle_collector(POLLER_COLLECTOR)
        if options["loop"]:
            self.run_loop(poller, concurrency, slugs, process_id)
        else:
            self.run_once(poller, concurrency, slugs, options["dry_run"])

    def on_signal(self, signum: int, frame: Any) -> None:
        # Only set flags: the loops check them and stop in order.
        self.shutdown = True
        loop = getattr(self, "loop", None)
        if loop is not None:
            loop.shutdown = True

    # --- --loop ---------------------------------------------------------------------------------
    def run_loop(self, poller: Poller, concurrency: int, slugs: list[str], process_id: str) -> None:
        self.loop = PollerLoop(
            poller,
            build_lease_backend(),
            concurrency=concurrency,
            slugs=slugs or None,
            process_id=process_id,
            write=self.say,
            retention=True,  # the looping poller also rolls up and prunes (RETENTION_IN_POLLER)
        )
        self.loop.shutdown = self.shutdown  # a signal that arrived during start-up
        self.loop.run()

    def say(self, line: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(line)

    # --- once -----------------------------------------------------------------------------------
    def run_once(self, poller: Poller, concurrency: int, slugs: list[str], dry_run: bool) -> None:
        queryset = Source.objects.filter(slug__in=slugs) if slugs else Source.objects.enabled()
        sources = list(queryset.order_by("slug"))
        if not sources:
            self.say("no enabled sources to poll")
            return
        outcomes: dict[str, PollOutcome] = {}
        started = time.monotonic()
        with pool(min(concurrency, len(sources))) as executor:
            futures = {executor.submit(poll_and_hand_back, poller, source): source.slug for source in sources}
            pending = set(futures)
            cancelled = False
            while pending:
                done, pending = wait(pending, timeout=0.2)
                for future in done:
                    if future.cancelled():
                        continue
                    try:
                        outcomes[futures[future]] = future.result()
                    except Exception:
                        logger.exception("%s: the poll crashed", futures[future])
                if self.shutdown and not cancelled:
                    # Interrupted: polls in flight finish, the ones not started yet never start.
                    cancelled = True
                    poller.fetcher.stop.set()
                    for future in pending:
                        future.cancel()
                if pending and time.monotonic() - started >= self.next_progress:
                    self.say(f"polled {len(outcomes)} of {len(sources)} sources, {len(pending)} to go")
                    self.next_progress += PROGRESS_EVERY
        poller.fetcher.close()
        poller.flush_health()

        if dry_run:
            self.print_dry_run(sources, outcomes)
        self.print_summary(sources, outcomes)
        failed = [s.slug for s in sources if s.slug not in outcomes or not outcomes[s.slug].ok]
        if failed:
            raise CommandError(f"{len(failed)} of {len(sources)} polls failed: {', '.join(failed)}", returncode=1)

    def print_summary(self, sources: list[Source], outcomes: dict[str, PollOutcome]) -> None:
        if self.verbosity < 1:
            return
        rows = [("SOURCE", "STATUS", "LATENCY", "CHANGED", "ATTEMPTS")]
        for source in sources:
            outcome = outcomes.get(source.slug)
            if outcome is None:
                rows.append((source.slug, "not polled", "-", "-", "-"))
                continue
            if outcome.skipped:
                status = "skipped (circuit open)"
            elif outcome.ok:
                status = "ok"
            else:
                status = f"FAILED {outcome.error_kind}"
            latency = f"{outcome.latency_ms:.0f} ms" if outcome.latency_ms is not None else "-"
            changed = "-" if outcome.record is None else ("yes" if outcome.record.changed else "no")
            rows.append((source.slug, status, latency, changed, str(outcome.attempts) if not outcome.skipped else "-"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        for source in sources:
            outcome = outcomes.get(source.slug)
            if outcome is not None and not outcome.ok and self.verbosity >= 1:
                self.stderr.write(f"{source.slug}: {outcome.error_message}")

    def print_dry_run(self, sources: list[Source], outcomes: dict[str, PollOutcome]) -> None:
        from metrics.extraction import prepare
        from metrics.stores.base import PayloadError

        for source in sources:
            outcome = outcomes.get(source.slug)
            if outcome is None or not outcome.ok or outcome.payload is None:
                continue
            try:
                prepared = prepare(source.spec(), outcome.payload, settings.METRICS_MAX_PAYLOAD_BYTES)
            except PayloadError as exc:
                # The store would refuse it: the dry run says so, as a failure.
                outcomes[source.slug] = PollOutcome(
                    source=outcome.source,
                    poll_id=outcome.poll_id,
                    started_at=outcome.started_at,
                    ok=False,
                    latency_ms=outcome.latency_ms,
                    status_code=outcome.status_code,
                    error_kind="bad_payload",
                    error_message=str(exc),
                    attempts=outcome.attempts,
                )
                continue
            self.stdout.write(f"{source.slug}: hash {prepared.hash}, {prepared.size_bytes} bytes")
            if self.verbosity >= 1:
                self.stdout.write(json.dumps(prepared.metrics, indent=2, sort_keys=True))
            if self.verbosity >= 2:
                self.stdout.write(json.dumps(outcome.payload, indent=2, sort_keys=True))
