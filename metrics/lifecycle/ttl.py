"""The MongoDB TTL index on raw history: what its expiry should be, and how it is applied.

A TTL index has one expiry for the whole collection, while policies differ per source and some
archive raw snapshots first (a TTL deletion cannot archive). So the TTL is a safety net that can
never delete too early: its expiry is the LONGEST raw retention of any policy, and there is none at
all while any policy archives. ``manage.py prune`` deletes the rest precisely, per source.
The SQL store has no TTL; pruning does everything there.

The expiry chosen from the policies is stored in the store's ``metrics_store_settings`` collection
(``{"_id": "history_ttl", "seconds": N or None}``), so every process that ensures the indexes later
(``MongoMetricStore.ensure_indexes``, which calls ``ensure_history_ttl``) keeps it instead of going
back to the ``METRICS_HISTORY_RETENTION_DAYS`` default used until a policy is applied.
"""

from __future__ import annotations

import logging

from pymongo import ASCENDING

from metrics.lifecycle.models import Retention, RetentionPolicy
from metrics.stores.base import MetricStore
from metrics.stores.mongo import HISTORY, MongoMetricStore

logger = logging.getLogger(__name__)

TTL_KEY = [("fetched_at", ASCENDING)]
TTL_INDEX_NAME = "fetched_at_ttl"
SETTING_ID = "history_ttl"


def wanted_ttl_seconds() -> int | None:
    """The history TTL the policies allow: None when any of them archives raw snapshots."""
    policies = [p.as_retention() for p in RetentionPolicy.objects.all()] or [Retention()]
    if any(p.archive_raw for p in policies):
        return None
    return max(p.raw_days for p in policies) * 86400


def sync_ttl(store: MetricStore) -> list[str]:
    """Apply ``wanted_ttl_seconds`` to a store that has a TTL (MongoDB); what was done, for the log."""
    from metrics.lifecycle.retention import rollup_store

    target = rollup_store(store)
    if not isinstance(target, MongoMetricStore):
        return []
    result = set_history_ttl(target, wanted_ttl_seconds())
    logger.info("history TTL: %s", result)
    return [result]


def set_history_ttl(store: MongoMetricStore, seconds: int | None) -> str:
    """Make the history TTL ``seconds`` (None: no TTL index), for every process from now on."""
    with store.driver_errors("set the history TTL"):
        store.settings_collection.replace_one({"_id": SETTING_ID}, {"_id": SETTING_ID, "seconds": seconds}, upsert=True)
        return ensure_history_ttl(store)


def ensure_history_ttl(store: MongoMetricStore) -> str:
    """Make the TTL index match the stored choice (else the store's default); what was done.

    Raises the driver's errors: callers run it inside ``store.driver_errors``.
    """
    chosen = store.settings_collection.find_one({"_id": SETTING_ID})
    if chosen is not None and chosen.get("seconds") is None:
        return _drop_ttl(store)
    wanted = int(chosen["seconds"]) if chosen is not None else store.retention_seconds
    # Look the index up by key, not name: an index made by an older release may be named otherwise.
    for name, spec in store.history_collection.index_information().items():
        if list(spec.get("key", [])) == TTL_KEY:
            if spec.get("expireAfterSeconds") == wanted:
                return f"{name} (TTL {wanted}s, unchanged)"
            # create_index would fail with IndexOptionsConflict: change the TTL in place.
            store.db.command("collMod", HISTORY, index={"name": name, "expireAfterSeconds": wanted})
            applied = store.history_collection.index_information().get(name, {}).get("expireAfterSeconds")
            if applied != wanted:
                # nx-27017 answers ok to collMod without applying it; say so rather than claim success.
                logger.warning("the server did not apply the new TTL of %s (still %ss)", name, applied)
                return f"{name} (TTL change to {wanted}s NOT applied by the server, still {applied}s)"
            return f"{name} (TTL changed to {wanted}s)"
    name = store.history_collection.create_index(TTL_KEY, expireAfterSeconds=wanted, name=TTL_INDEX_NAME)
    return f"{name} (TTL {wanted}s, created)"


def _drop_ttl(store: MongoMetricStore) -> str:
    for name, spec in store.history_collection.index_information().items():
        if list(spec.get("key", [])) == TTL_KEY and "expireAfterSeconds" in spec:
            store.history_collection.drop_index(name)
            return f"{name} dropped (raw snapshots are archived before deletion, so no TTL)"
    return "no TTL index (raw snapshots are archived before deletion)"
