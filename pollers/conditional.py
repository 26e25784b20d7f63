"""Conditional polls: send the upstream's validators back, and read a 304 as "the same document again".

After a full answer carrying ``ETag`` or ``Last-Modified`` (kept on the source once the answer
is stored), the next poll sends ``If-None-Match`` / ``If-Modified-Since``. A ``304 Not Modified``
is a successful, unchanged poll: the poller records the stored latest document again, which
moves its ``last_seen_at`` and writes nothing to history, exactly like a full answer that did
not change. Should the store not have a document (emptied, or another store), the poll asks
again without validators. 304 answers are counted in ``devops_insights_polls_not_modified_total``.

``fetch`` is what the engine calls for every poll: it also applies the source's credentials and
transport (``pollers.credentials``).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from prometheus_client import Counter

from metrics.stores.base import MetricStore, StoreError
from pollers.credentials import CredentialError, request_for
from pollers.fetch import Fetcher, FetchResult
from pollers.models import Source

logger = logging.getLogger("pollers.conditional")

# Kept here rather than in observability/instruments.py so this feature stays in one module;
# exported by the same registry as every other instrument.
POLLS_NOT_MODIFIED = Counter(
    "devops_insights_polls_not_modified",
    "Polls the upstream answered 304 Not Modified (conditional requests), per source.",
    ["source"],
)


def validators_for(source: Source) -> dict[str, str]:
    headers: dict[str, str] = {}
    if source.upstream_etag:
        headers["If-None-Match"] = source.upstream_etag
    if source.upstream_last_modified:
        headers["If-Modified-Since"] = source.upstream_last_modified
    return headers


def fetch(fetcher: Fetcher, store: Callable[[], MetricStore], source: Source, poll_id: str) -> FetchResult:
    """Fetch the source as configured, conditionally when it has validators. Never raises for upstream trouble."""
    try:
        request = request_for(source, validators_for(source))
    except CredentialError as exc:
        return FetchResult(ok=False, attempts=0, error_kind=exc.kind, error_message=exc.message)
    fetched = fetcher.fetch(request.url, request.headers, request.timeout, poll_id=poll_id, transport=request.transport)
    if not fetched.not_modified:
        return fetched
    POLLS_NOT_MODIFIED.labels(source=source.slug).inc()
    try:
        latest = store().latest(source.slug)
    except StoreError as exc:
        return replace(fetched, ok=False, error_kind="store_error", error_message=str(exc)[:300])
    if latest is None:
        logger.info("poll %s %s: 304 but nothing stored; asking again in full", poll_id, source.slug)
        full = request_for(source)
        return fetcher.fetch(full.url, full.headers, full.timeout, poll_id=poll_id, transport=full.transport)
    # A copy: the store may hand out a cached object, and receivers must not change it through the outcome.
    payload: dict[str, Any] = copy.deepcopy(latest.payload)
    return replace(fetched, payload=payload)


def remember(source: Source, fetched: FetchResult, stored: bool) -> None:
    """After a stored full answer, keep its validators for the next poll (a 304 keeps the old ones)."""
    if not stored or fetched.not_modified:
        return
    if (source.upstream_etag, source.upstream_last_modified) == (fetched.etag, fetched.last_modified):
        return
    Source.objects.filter(pk=source.pk).update(upstream_etag=fetched.etag, upstream_last_modified=fetched.last_modified)
    source.upstream_etag, source.upstream_last_modified = fetched.etag, fetched.last_modified
