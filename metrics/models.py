"""Tables of the metrics app: the SQL metric store's (metrics.stores.sql; other areas read them through
``get_store()``), the retention policies (metrics.lifecycle.models) and the locks (metrics.lifecycle.locks)."""

from __future__ import annotations

from django.db import models

from metrics.fields import DocumentField

# The data lifecycle's models live with their code; importing them here registers them in the metrics app.
from metrics.lifecycle.locks import Lock
from metrics.lifecycle.models import RetentionPolicy

__all__ = [
    "AvailabilityCount",
    "HistoryEntryRow",
    "LatestSnapshot",
    "Lock",
    "MetricRollup",
    "MetricSample",
    "RetentionPolicy",
]


class LatestSnapshot(models.Model):
    """One row per source: the current content. Its row lock serializes writers of the source."""

    source = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=40)
    payload = DocumentField()  # its JSON text as written, not jsonb (metrics/fields.py says why)
    metrics = models.JSONField(default=dict)
    fetched_at = models.DateTimeField()  # when this content was first fetched
    last_seen_at = models.DateTimeField()  # when it was last fetched unchanged
    sequence = models.PositiveBigIntegerField()
    poll_meta = models.JSONField(default=dict)

    class Meta:
        db_table = "metrics_latest"
        ordering = ["source"]

    def __str__(self) -> str:
        return f"{self.source}#{self.sequence}"


class HistoryEntryRow(models.Model):
    """One row per change of a source's content, with the diff against the previous content."""

    source = models.CharField(max_length=64)
    sequence = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=40)
    payload = DocumentField()
    metrics = models.JSONField(default=dict)
    diff = DocumentField(default=list)  # its old and new values are the documents' own
    fetched_at = models.DateTimeField()

    class Meta:
        db_table = "metrics_history"
        constraints = [
            # A second writer that slipped past the row lock could not append the same change twice.
            models.UniqueConstraint(fields=["source", "sequence"], name="metrics_history_source_sequence"),
        ]
        indexes = [
            # history() pages newest first by (fetched_at, sequence) within one source.
            models.Index(fields=["source", "-fetched_at", "-sequence"], name="metrics_history_page"),
            # prune() across all sources.
            models.Index(fields=["fetched_at"], name="metrics_history_fetched"),
        ]

    def __str__(self) -> str:
        return f"{self.source}#{self.sequence}"


class MetricSample(models.Model):
    """One extracted number of one history entry, flat so series() groups in SQL without parsing JSON.

    ``epoch`` (whole seconds since 1970) is written with the row so buckets are plain integer
    arithmetic, identical on SQLite and PostgreSQL.
    """

    source = models.CharField(max_length=64)
    metric = models.CharField(max_length=100)
    sequence = models.PositiveBigIntegerField()  # the history entry this number came from
    fetched_at = models.DateTimeField()
    epoch = models.BigIntegerField()
    value = models.FloatField()

    class Meta:
        db_table = "metrics_sample"
        indexes = [
            models.Index(fields=["source", "metric", "fetched_at"], name="metrics_sample_series"),
            models.Index(fields=["fetched_at"], name="metrics_sample_fetched"),
        ]

    def __str__(self) -> str:
        return f"{self.source}.{self.metric}={self.value}"


class MetricRollup(models.Model):
    """One rollup bucket of one source's metric (metrics.rollups): 1-minute, 1-hour or 1-day.

    Upserted by (source, metric, tier, start), so recomputing a bucket replaces it in place.
    """

    source = models.CharField(max_length=64)
    metric = models.CharField(max_length=100)
    tier = models.CharField(max_length=2)  # "1m" | "1h" | "1d"
    start = models.DateTimeField()
    count = models.PositiveIntegerField()
    min = models.FloatField()
    max = models.FloatField()
    sum = models.FloatField()
    last = models.FloatField()
    last_at = models.DateTimeField()

    class Meta:
        db_table = "metrics_rollup"
        constraints = [
            models.UniqueConstraint(fields=["source", "metric", "tier", "start"], name="metrics_rollup_bucket"),
        ]
        indexes = [
            # Pruning one tier across sources.
            models.Index(fields=["tier", "start"], name="metrics_rollup_tier_start"),
            # Rolling a source up: every metric of a tier in a time range.
            models.Index(fields=["source", "tier", "start"], name="metrics_rollup_source_tier"),
        ]

    def __str__(self) -> str:
        return f"{self.source}.{self.metric}@{self.tier}:{self.start.isoformat()}"


class AvailabilityCount(models.Model):
    """Poll outcomes of one source counted in one bucket (metrics.availability, docs/availability.md).

    One row per (bucket, origin, latency bin, error kind): up polls per latency bin, down polls per
    error kind. A poll adds 1 to one row per tier with ``INSERT ... ON CONFLICT DO UPDATE``, so a
    write never reads first; reads add rows up (a bucket's polls, its latency histogram) in SQL.
    """

    source = models.CharField(max_length=64)
    tier = models.CharField(max_length=2)  # "1m" | "1h" | "1d"
    start = models.DateTimeField()
    origin = models.CharField(max_length=8)  # "live" (the poller) | "backfill" (backfill_availability)
    latency_bin = models.SmallIntegerField()  # up polls: their latency's bin; -1: no latency (down, unmeasured)
    error_kind = models.CharField(max_length=40, blank=True)  # "" for up polls
    count = models.PositiveIntegerField()

    class Meta:
        db_table = "metrics_availability"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "tier", "start", "origin", "latency_bin", "error_kind"],
                name="metrics_availability_cell",
            ),
        ]
        indexes = [
            # Pruning one tier across sources (reads of one source use the unique index's prefix).
            models.Index(fields=["tier", "start"], name="metrics_availability_prune"),
        ]

    def __str__(self) -> str:
        return f"{self.source}@{self.tier}:{self.start.isoformat()} {self.error_kind or self.latency_bin}={self.count}"
