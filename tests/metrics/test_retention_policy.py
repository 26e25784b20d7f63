"""Retention policies: a global default from the migration, per-source overrides, validation, admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client

from metrics.lifecycle.models import Retention, RetentionPolicy
from tests.factories import make_source, make_user

pytestmark = pytest.mark.django_db


def test_it_ships_a_global_default_with_the_documented_values() -> None:
    default = RetentionPolicy.objects.global_default()
    assert default is not None
    assert default.as_retention() == Retention(raw_days=7, minute_days=30, hour_days=365, day_days=None)
    assert default.as_retention().keep("1d") is None
    assert default.as_retention().keep("raw") == timedelta(days=7)


def test_it_prefers_a_source_override_over_the_default() -> None:
    make_source("us-east")
    eu = make_source("eu-west")
    RetentionPolicy.objects.update_or_create(source=None, defaults={"raw_days": 3})
    RetentionPolicy.objects.create(source=eu, raw_days=1, minute_days=2, hour_days=3, day_days=4, archive_raw=True)
    assert RetentionPolicy.objects.effective("us-east").raw_days == 3
    assert RetentionPolicy.objects.effective("eu-west") == Retention(1, 2, 3, 4, True)
    both = RetentionPolicy.objects.effective_all(["us-east", "eu-west", "unknown"])
    assert both["us-east"].raw_days == 3
    assert both["eu-west"].archive_raw is True
    assert both["unknown"].raw_days == 3


def test_it_falls_back_to_built_in_defaults_without_any_row() -> None:
    RetentionPolicy.objects.all().delete()
    assert RetentionPolicy.objects.effective("anything") == Retention()


def test_it_allows_one_global_default_and_one_policy_per_source() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        RetentionPolicy.objects.create(source=None)
    source = make_source("us-east")
    RetentionPolicy.objects.create(source=source)
    with pytest.raises(IntegrityError), transaction.atomic():
        RetentionPolicy.objects.create(source=source)


def test_it_rejects_a_coarse_tier_kept_shorter_than_a_finer_one() -> None:
    policy = RetentionPolicy(source=make_source("us-east"), raw_days=7, minute_days=30, hour_days=10, day_days=5)
    with pytest.raises(ValidationError) as caught:
        policy.full_clean()
    assert set(caught.value.message_dict) == {"hour_days", "day_days"}
    # A second default is refused with a readable message, not a database error.
    with pytest.raises(ValidationError, match="for this scope"):
        RetentionPolicy(source=None).full_clean()
    with pytest.raises(ValidationError):
        RetentionPolicy(raw_days=0).full_clean(exclude=["source"])


def test_it_gives_horizons_per_tier() -> None:
    now = datetime(2026, 11, 29, tzinfo=UTC)
    retention = Retention(raw_days=2, day_days=None)
    assert retention.horizon("raw", now) == now - timedelta(days=2)
    assert retention.horizon("1d", now) is None


def test_it_is_managed_in_the_admin() -> None:
    admin_user = make_user("ops", superuser=True, email="ops@example.com")
    client = Client()
    client.force_login(admin_user)
    listing = client.get("/admin/metrics/retentionpolicy/")
    assert listing.status_code == 200
    assert b"all sources (default)" in listing.content
    source = make_source("us-east")
    response = client.post(
        "/admin/metrics/retentionpolicy/add/",
        {"source": source.pk, "raw_days": 2, "minute_days": 10, "hour_days": 100, "day_days": "", "archive_raw": "on"},
    )
    assert response.status_code == 302, response.content
    assert RetentionPolicy.objects.effective("us-east") == Retention(2, 10, 100, None, True)
    refused = client.post(
        "/admin/metrics/retentionpolicy/add/",
        {"source": "", "raw_days": 2, "minute_days": 10, "hour_days": 5, "day_days": ""},
    )
    assert refused.status_code == 200
    assert b"at least as long as 1-minute rollups" in refused.content
