"""A retention policy saved or deleted (in the admin) moves the MongoDB history TTL with it on commit."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from metrics.lifecycle.models import RetentionPolicy
from metrics.lifecycle.ttl import sync_ttl
from metrics.stores import get_store

logger = logging.getLogger(__name__)


@receiver(post_save, sender=RetentionPolicy, dispatch_uid="metrics.lifecycle.ttl_on_save")
@receiver(post_delete, sender=RetentionPolicy, dispatch_uid="metrics.lifecycle.ttl_on_delete")
def follow_policy_with_ttl(sender: Any, **kwargs: Any) -> None:
    """A policy changed in the admin: move the MongoDB history TTL with it (collMod) once that is committed.

    Not before: the TTL is read from the policies, and one rolled back (a configuration apply that failed
    further on) would leave MongoDB expiring history the policy in force still keeps.
    """
    if settings.METRIC_STORE != "mongodb":
        return
    transaction.on_commit(_sync_ttl, using=kwargs.get("using"))


def _sync_ttl() -> None:
    try:
        sync_ttl(get_store())
    except Exception:
        # The next `manage.py prune` syncs again; an unreachable MongoDB must not fail the admin save.
        logger.exception("could not apply the retention policy to the MongoDB TTL index")
