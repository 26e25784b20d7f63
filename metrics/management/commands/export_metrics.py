"""manage.py export_metrics: the metric store as NDJSON (see metrics/lifecycle/records.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from metrics.lifecycle.transfer import opened, write_export
from metrics.stores import get_store


class Command(BaseCommand):
    help = (
        "Write every source's latest snapshot, history and rollups as NDJSON (one record a line; "
        "gzip when the file name ends in .gz). Read back with import_metrics, into either store."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", default="-", help="File to write (default: standard output).")
        parser.add_argument("--source", action="append", metavar="SLUG", help="Only this source (repeatable).")

    def handle(self, *args: Any, **options: Any) -> None:
        store = get_store()
        with opened(options["output"], "w") as handle:
            counts = write_export(store, handle, options["source"])
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        # The summary goes to stderr so that `export_metrics > file` holds only records.
        self.stderr.write(f"export_metrics: {store.backend} store: {summary}")
