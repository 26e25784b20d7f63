"""The cache every process of one deployment shares, for coordination: generations, locks and markers.

The default cache is Redis when ``REDIS_URL`` is set and else a local-memory cache, which each process
(daphne, ``poll --loop``, ``manage.py prune``) keeps to itself: good for what a process caches for its
own reads, useless for telling another process something. Without Redis, settings add the ``shared``
alias (``SHARED_CACHE_ALIAS``), a database cache on the default database that every process reads (its
``add`` is one INSERT on a primary key, so a lock or a generation's first value is taken by one process
only). With Redis there is no such alias and the default cache is already shared, so nothing changes there.
Ground floor: every app may import it; it imports no project app.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import BaseCache, caches


def shared_cache() -> BaseCache:
    """The cache that every process of this deployment reads and writes alike (``SHARED_CACHE_ALIAS``, which
    waffle's flag cache uses too). An alias missing from ``CACHES`` raises (and fails the system check
    ``devops_insights.E001``): falling back to a process's own cache would silently stop what one process
    tells another."""
    return caches[settings.SHARED_CACHE_ALIAS]


def is_default_cache() -> bool:
    """Whether the shared cache is the default one (Redis): then what a caller keeps in the default cache and
    what it shares can be read together, in one round trip."""
    return settings.SHARED_CACHE_ALIAS == "default"
