"""MongoDB TTL index on raw history, kept in line with the retention policies.

A TTL index has one expiry for the whole collection, while policies differ per source and some
archive raw snapshots first (a TTL deletion cannot archive). So the TTL is a safety net that can
never delete too early: its expiry is the LONGEST raw retention of any policy, and there is none at
all while any policy archives. ``manage.py prune`` deletes the rest precisely, per source.
The SQL store has no TTL; pruning does everything there.
"""

from __future__ import annotations

import logging

from metrics.stores.base import MetricStore
from observability.models import RetentionPolicy

logger = logging.getLogger(__name__)


def wanted_ttl_seconds() -> int | None:
    """The history TTL the policies allow: None when any of them archives raw snapshots."""
    policies = [p.as_retention() for p in RetentionPolicy.objects.all()]
    if not policies:
        from observability.models import Retention

        policies = [Retention()]
    if any(p.archive_raw for p in policies):
        return None
    return max(p.raw_days for p in policies) * 86400


def sync_ttl(store: MetricStore) -> list[str]:
    """Apply ``wanted_ttl_seconds`` to a store that has a TTL (MongoDB); what was done, for the log."""
    from observability.retention import rollup_store

    target = rollup_store(store)
    setter = getattr(target, "set_history_ttl", None)
    if setter is None:
        return []
    result = setter(wanted_ttl_seconds())
    logger.info("history TTL: %s", result)
    return [result]
