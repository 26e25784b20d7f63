"""manage.py backfill_availability: availability buckets for polls made before the poller counted them.

It lives in pollers because it reads pollers' data (the poll-failure log, the sources) and writes
through the metric store's contract; metrics may not import pollers. See docs/availability.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.stores import get_backend_store
from metrics.stores.base import MetricStore, StoreError
from pollers.availability import Backfill, backfill_source
from pollers.models import Source

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Derive availability buckets from the poll-failure log and history for polls made before the poller "
        "counted them. Idempotent: it replaces what an earlier run backfilled and never touches live counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", action="append", metavar="SLUG", help="Only this source (repeatable).")
        parser.add_argument(
            "--since",
            metavar="DATE",
            help="Only polls from this UTC day on (YYYY-MM-DD); default: everything stored.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Say what would be counted; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        since = _since(options["since"])
        store = get_backend_store()
        slugs = _sources(store, options["source"])
        now = datetime.now(UTC)
        failed = []
        for slug in slugs:
            try:
                plan = backfill_source(store, slug, since, now, dry_run=options["dry_run"])
            except StoreError as exc:
                failed.append(slug)
                self.stderr.write(f"{slug}: FAILED: {exc} (nothing counted twice; run it again)")
                continue
            self.stdout.write(_summary(plan, dry_run=options["dry_run"]))
        if failed:
            raise CommandError(f"backfill failed for {len(failed)} source(s): {', '.join(failed)}")


def _since(text: str | None) -> datetime:
    if text is None:
        return EPOCH
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--since must be a day like 2026-11-01, got {text!r}") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _sources(store: MetricStore, chosen: list[str] | None) -> list[str]:
    try:
        # The slugs only: the documents (latest_all) would all be held at once to learn their keys.
        stored = set(store.latest_sources())
    except StoreError as exc:
        raise CommandError(f"the metric store is not available: {exc}") from None
    known = stored | set(Source.objects.values_list("slug", flat=True))
    if not chosen:
        return sorted(known)
    unknown = sorted(set(chosen) - known)
    if unknown:
        raise CommandError(f"unknown source(s): {', '.join(unknown)} (neither configured nor in the metric store)")
    return sorted(set(chosen))


def _summary(plan: Backfill, *, dry_run: bool) -> str:
    verb = "would backfill" if dry_run else "backfilled"
    until = plan.until.strftime("%Y-%m-%d %H:%M UTC")
    since = "the start" if plan.since == EPOCH else plan.since.strftime("%Y-%m-%d")
    line = f"{plan.source}: {verb} {len(plan.samples)} poll(s) ({plan.up} up, {plan.down} down) from {since} to {until}"
    if not plan.live_found:
        line += " (the poller has counted nothing for it yet; a later run stops where it begins)"
    return line
