"""manage.py prune: apply the retention policies (roll up, archive, delete), with progress."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.lifecycle.maintenance import LOCK_NAME, mark_rolled_up, retention_lock
from metrics.lifecycle.models import source_known
from metrics.lifecycle.retention import RetentionFailed, SourceReport, apply_retention
from metrics.lifecycle.ttl import sync_ttl
from metrics.stores import get_store
from metrics.stores.base import MetricStore


class Command(BaseCommand):
    help = (
        "Apply the retention policies: bring rollups up to date, archive raw snapshots where the policy "
        "says so (gzip NDJSON under ARCHIVE_DIR, verified before anything is deleted), delete what is older "
        "than each tier keeps. Idempotent; safe to rerun after a crash."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Say what would be deleted; change nothing.")
        parser.add_argument("--source", metavar="SLUG", help="Only this source.")

    def handle(self, *args: Any, **options: Any) -> None:
        store = get_store()
        sources = None
        if options["source"]:
            slug = options["source"]
            if not source_known(store, slug):
                raise CommandError(f"no source {slug!r} in the store or the source list")
            sources = [slug]
        if options["dry_run"]:
            # Changes nothing, so it runs beside a retention run.
            reports = self.apply(store, sources, dry_run=True)
        else:
            # The poller's retention step takes the same lock: two runs at once would merge and rewrite the same
            # archive days and delete under each other.
            with retention_lock() as taken:
                if not taken:
                    raise CommandError(
                        f"another retention run holds the retention lock ({LOCK_NAME!r}: a poller's, or "
                        f"another prune; it expires after RETENTION_LOCK_SECONDS={settings.RETENTION_LOCK_SECONDS}), "
                        "or the database cannot be reached; nothing was changed, try again later"
                    )
                started = time.time()
                reports = self.apply(store, sources, dry_run=False)
                if sources is None:  # every source rolled up: anomaly rules may judge the hours before ``started``
                    mark_rolled_up(started)
                for line in sync_ttl(store):
                    self.stdout.write(f"  TTL: {line}")
        raw = sum(r.raw_deleted for r in reports)
        # A dry run archives nothing: its total is what a real run would archive, not a misleading "archived 0".
        archived = sum(r.raw_to_archive for r in reports)
        verb, archive_verb = ("would delete", "would archive") if options["dry_run"] else ("deleted", "archived")
        self.stdout.write(
            self.style.SUCCESS(
                f"prune: {len(reports)} source(s), {verb} {raw} raw snapshot(s), {archive_verb} {archived}"
            )
        )

    def apply(self, store: MetricStore, sources: list[str] | None, *, dry_run: bool) -> list[SourceReport]:
        mode = " (dry run: nothing is changed)" if dry_run else ""
        self.stdout.write(f"prune: {store.backend} store, archives under {settings.ARCHIVE_DIR}{mode}")
        try:
            return apply_retention(
                store,
                settings.ARCHIVE_DIR,
                sources=sources,
                dry_run=dry_run,
                progress=lambda message: self.stdout.write(f"  {message}"),
            )
        except RetentionFailed as exc:
            raise CommandError(str(exc)) from None
