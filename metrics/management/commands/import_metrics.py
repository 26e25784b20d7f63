"""manage.py import_metrics: load an export_metrics NDJSON file into the configured store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.lifecycle.records import RecordFormatError
from metrics.lifecycle.transfer import import_lines, read_lines, validate
from metrics.stores import get_store


class Command(BaseCommand):
    help = (
        "Import an export_metrics NDJSON file (.gz read as gzip). The whole file is checked before "
        "anything is written; nothing stored is lost: history entries and rollup buckets already stored are "
        "kept (the file's skipped), a latest snapshot only replaces an older one, so importing twice, or an "
        "older export, adds only what is missing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The file written by export_metrics.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["path"]
        if not Path(path).is_file():
            raise CommandError(f"{path}: no such file")
        try:
            records = validate(read_lines(path))
        except RecordFormatError as exc:
            raise CommandError(f"{path}: {exc}; nothing was imported") from None
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: cannot be read ({exc}); nothing was imported") from None
        store = get_store()
        self.stdout.write(f"import_metrics: {records} record(s) checked, importing into the {store.backend} store")
        result = import_lines(store, read_lines(path), progress=lambda message: self.stdout.write(f"  {message}"))
        self.stdout.write(self.style.SUCCESS(f"import_metrics: {result.summary()}"))
