"""Retention policies: how long each tier of metric data is kept, globally and per source.

A model of the ``metrics`` app (registered through ``metrics/models.py``). It belonged to
``observability`` before the lifecycle moved here; its table kept that app's name (see ``Meta``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Coalesce

from metrics.availability import REQUIRED_KEEP, WINDOWS

if TYPE_CHECKING:
    from metrics.stores.base import MetricStore

# The defaults: raw 7 days, 1-minute rollups 30 days, 1-hour rollups a year, 1-day kept.
DEFAULT_RAW_DAYS = 7
DEFAULT_MINUTE_DAYS = 30
DEFAULT_HOUR_DAYS = 365
MAX_DAYS = 36500
DAYS_VALIDATORS = [MinValueValidator(1), MaxValueValidator(MAX_DAYS)]


@dataclass(frozen=True)
class Retention:
    """The policy in force for one source, as plain values (what stores and the pruner use)."""

    raw_days: int = DEFAULT_RAW_DAYS
    minute_days: int = DEFAULT_MINUTE_DAYS
    hour_days: int = DEFAULT_HOUR_DAYS
    day_days: int | None = None  # None: kept forever
    archive_raw: bool = False

    def keep(self, tier: str) -> timedelta | None:
        """How long ``tier`` ("raw", "1m", "1h", "1d") is kept; None is forever."""
        days = {"raw": self.raw_days, "1m": self.minute_days, "1h": self.hour_days, "1d": self.day_days}[tier]
        return None if days is None else timedelta(days=days)

    def horizon(self, tier: str, now: datetime) -> datetime | None:
        """Data of ``tier`` older than this is pruned; None: nothing is."""
        keep = self.keep(tier)
        return None if keep is None else now - keep


class RetentionPolicyQuerySet(models.QuerySet):
    def global_default(self) -> RetentionPolicy | None:
        return self.filter(source__isnull=True).first()

    def effective(self, slug: str) -> Retention:
        """The source's own policy, else the global default, else the built-in defaults."""
        policies = {p.source.slug if p.source else None: p for p in self.filter_for(slug)}
        policy = policies.get(slug) or policies.get(None)
        return policy.as_retention() if policy else Retention()

    def filter_for(self, slug: str) -> RetentionPolicyQuerySet:
        return self.select_related("source").filter(models.Q(source__isnull=True) | models.Q(source__slug=slug))

    def effective_all(self, slugs: list[str]) -> dict[str, Retention]:
        """Every named source's policy in one query."""
        rows = list(self.select_related("source"))
        default = next((p.as_retention() for p in rows if p.source_id is None), Retention())
        overrides = {p.source.slug: p.as_retention() for p in rows if p.source is not None}
        return {slug: overrides.get(slug, default) for slug in slugs}


class RetentionPolicy(models.Model):
    # A lazy string reference: metrics never imports pollers (the layers point down), yet a
    # per-source policy must follow its source (deleted with it). Code here that needs sources
    # reaches them through this relation (``configured_slugs``), not through an import.
    source = models.OneToOneField(
        "pollers.Source",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="retention_policy",
        help_text="Leave empty for the global default that every source without its own policy follows.",
    )
    raw_days = models.PositiveIntegerField(
        "raw snapshots (days)",
        default=DEFAULT_RAW_DAYS,
        validators=DAYS_VALIDATORS,
        help_text="History entries with the full payload.",
    )
    minute_days = models.PositiveIntegerField(
        "1-minute rollups (days)",
        default=DEFAULT_MINUTE_DAYS,
        validators=DAYS_VALIDATORS,
    )
    hour_days = models.PositiveIntegerField(
        "1-hour rollups (days)",
        default=DEFAULT_HOUR_DAYS,
        validators=DAYS_VALIDATORS,
    )
    day_days = models.PositiveIntegerField(
        "1-day rollups (days)",
        null=True,
        blank=True,
        validators=DAYS_VALIDATORS,
        help_text="Empty: kept forever.",
    )
    archive_raw = models.BooleanField(
        "archive raw snapshots",
        default=False,
        help_text="Write raw snapshots to gzip NDJSON files under ARCHIVE_DIR before deleting them.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = RetentionPolicyQuerySet.as_manager()

    class Meta:
        # The table of the app the model came from (observability 0003, metrics 0003): moving only
        # the model's state changes nothing in the database, so the previous release keeps running
        # against it during an upgrade.
        db_table = "observability_retentionpolicy"
        verbose_name = "retention policy"
        verbose_name_plural = "retention policies"
        constraints = [
            # One global default (source NULL) at most: NULLs are distinct in a plain unique index.
            models.UniqueConstraint(
                Coalesce("source", 0),
                name="retention_one_policy_per_scope",
                violation_error_message="A retention policy for this scope (the default, or this source) exists.",
            ),
        ]

    def __str__(self) -> str:
        return f"retention for {self.source.slug}" if self.source else "default retention"

    def clean(self) -> None:
        # A coarser tier kept for less time than a finer one would make long charts lose data first.
        errors: dict[str, list[str]] = {}
        if self.minute_days is not None and self.hour_days is not None and self.hour_days < self.minute_days:
            errors.setdefault("hour_days", []).append("Keep 1-hour rollups at least as long as 1-minute rollups.")
        if self.day_days is not None and self.hour_days is not None and self.day_days < self.hour_days:
            errors.setdefault("day_days", []).append(
                "Keep 1-day rollups at least as long as 1-hour rollups (or forever)."
            )
        for field, tier, days in (
            ("minute_days", "1m", self.minute_days),
            ("hour_days", "1h", self.hour_days),
            ("day_days", "1d", self.day_days),
        ):
            if days is not None and timedelta(days=days) < REQUIRED_KEEP[tier]:
                errors.setdefault(field, []).append(availability_floor_message(tier))
        if errors:
            raise ValidationError(errors)

    def as_retention(self) -> Retention:
        return Retention(
            raw_days=self.raw_days,
            minute_days=self.minute_days,
            hour_days=self.hour_days,
            day_days=self.day_days,
            archive_raw=self.archive_raw,
        )


TIER_NAMES = {"1m": "1-minute", "1h": "1-hour", "1d": "1-day"}


def availability_floor_message(tier: str) -> str:
    """Why a tier may not be kept shorter: the uptime windows read from it (metrics.availability.WINDOWS)."""
    windows = ", ".join(name for name, window in WINDOWS.items() if window.tier == tier)
    return (
        f"Keep {TIER_NAMES[tier]} data at least {REQUIRED_KEEP[tier].days} day(s): uptime over {windows} "
        "is read from its availability buckets (the same policy governs them)."
    )


def _source_model() -> type[models.Model]:
    """pollers.Source, reached through ``RetentionPolicy.source`` rather than imported."""
    model = RetentionPolicy._meta.get_field("source").related_model
    assert isinstance(model, type)
    assert issubclass(model, models.Model)
    return model


def configured_slugs() -> list[str]:
    """Every configured source's slug."""
    return list(_source_model()._default_manager.values_list("slug", flat=True))


def source_configured(slug: str) -> bool:
    return _source_model()._default_manager.filter(slug=slug).exists()


def source_known(store: MetricStore, slug: str) -> bool:
    """Whether ``--source SLUG`` of a lifecycle command names anything: data stored under it, or a source.

    The stored data counts too, so a deleted source's leftovers can still be exported or pruned; a typo
    names neither and is refused rather than run over nothing."""
    return store.latest(slug) is not None or source_configured(slug)
