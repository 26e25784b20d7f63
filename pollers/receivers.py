"""What pollers does when its own models change: a deleted source's stored metrics go with it."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def on_source_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Forget the source's stored metrics once its deletion commits, however it was deleted.

    The API deletes the store's data first (so a store outage refuses the deletion, and the client can
    retry); the admin and a configuration apply delete the row only. Either way the data goes here too:
    left in the store, it would be shown as its own by a source created later with the same slug.
    """
    transaction.on_commit(partial(forget_stored_metrics, instance.slug))


def forget_stored_metrics(slug: str) -> None:
    from metrics.stores import get_store

    try:
        get_store().delete_source(slug)
    except Exception:
        # The deletion stands (the row is gone); a poller that had the source scheduled deletes them again.
        logger.exception("could not delete the stored metrics of deleted source %s", slug)
