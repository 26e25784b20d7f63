"""manage.py export_metrics: the metric store as NDJSON (see metrics/lifecycle/records.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.lifecycle.models import source_known
from metrics.lifecycle.records import RecordTooLargeError
from metrics.lifecycle.transfer import opened, write_export
from metrics.stores import get_store


class Command(BaseCommand):
    help = (
        "Write every source's latest snapshot, history and rollups as NDJSON (one record a line; "
        "gzip when the file name ends in .gz). Read back with import_metrics, into either store: every line is "
        "within the import's budget (a diff too wide for one line is written over several)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", default="-", help="File to write (default: standard output).")
        parser.add_argument("--source", action="append", metavar="SLUG", help="Only this source (repeatable).")

    def handle(self, *args: Any, **options: Any) -> None:
        store = get_store()
        output = options["output"]
        # Checked before the file is opened: a mistyped slug exported nothing and said so only in the counts.
        unknown = [slug for slug in options["source"] or [] if not source_known(store, slug)]
        if unknown:
            names = ", ".join(repr(slug) for slug in unknown)
            raise CommandError(
                f"export_metrics: --source {names}: no such source in the store or the source list; nothing was written"
            )
        try:
            with opened(output, "w") as handle:
                counts = write_export(store, handle, options["source"])
        except RecordTooLargeError as exc:
            # A file cut short would import as if whole: none is left behind (standard output cannot be taken back).
            if output == "-":
                raise CommandError(f"export_metrics: {exc}; the output is incomplete") from None
            Path(output).unlink(missing_ok=True)
            raise CommandError(f"export_metrics: {exc}; no file was written") from None
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n or kind != "diff")
        # The summary goes to stderr so that `export_metrics > file` holds only records.
        self.stderr.write(f"export_metrics: {store.backend} store: {summary}")
