"""Create the metric store's indexes (MongoDB), or adjust the history TTL to the retention setting."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from metrics.stores.base import StoreError


class Command(BaseCommand):
    help = "Create the MongoDB metric store indexes idempotently and set the history TTL from the retention setting."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.METRIC_STORE != "mongodb":
            self.stdout.write("SQL metric store: its indexes come with `manage.py migrate`; nothing to do.")
            return
        from metrics.stores.mongo import MongoMetricStore

        store = MongoMetricStore.from_settings()
        try:
            for line in store.ensure_indexes():
                self.stdout.write(f"{store.db.name}: {line}")
        except StoreError as exc:
            raise CommandError(str(exc)) from None
        finally:
            store.close()
