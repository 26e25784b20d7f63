"""django-prometheus's request, database and cache figures on /metrics, beside the project's own series,
with no series name twice and the same access rule (token or allowlist)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from pollers.models import Source

TOKEN = "django-prometheus-token"


@pytest.fixture
def scraper(settings: Any) -> Client:
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []
    return Client()


def scrape(client: Client) -> list[Any]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 200, response.content
    return list(text_string_to_metric_families(response.content.decode()))


def total(families: list[Any], sample_name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in families
        for sample in family.samples
        if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


@pytest.mark.django_db
def test_it_counts_database_queries_and_they_grow_with_queries(scraper: Client) -> None:
    before = total(scrape(scraper), "django_db_execute_total")
    for n in range(5):
        Source.objects.create(slug=f"s{n}", name=f"S{n}", url=f"http://127.0.0.1:9/{n}")
    list(Source.objects.all())

    families = scrape(scraper)

    assert total(families, "django_db_execute_total") >= before + 6
    names = {family.name for family in families}
    assert "django_db_new_connections" in names
    assert "django_db_query_duration_seconds" in names


@pytest.mark.django_db
def test_it_reports_requests_and_cache_beside_the_projects_series_with_no_name_twice(scraper: Client) -> None:
    cache.set("django-prometheus-probe", 1)
    cache.get("django-prometheus-probe")
    cache.get("django-prometheus-missing")
    scraper.get("/api/v1/health")

    families = scrape(scraper)

    names = [family.name for family in families]
    assert [name for name, count in Counter(names).items() if count > 1] == []
    assert total(families, "django_http_requests_total_by_method_total", method="GET") >= 1
    assert total(families, "django_cache_get_total") >= 2
    assert total(families, "django_cache_get_hits_total") >= 1
    assert total(families, "django_cache_get_misses_total") >= 1
    assert any(name.startswith("devops_insights_") for name in names)
    # Ours keep their prefix and theirs theirs: no family is both.
    assert not any(name.startswith("devops_insights_django_") for name in names)


@pytest.mark.django_db
def test_it_keeps_the_access_rule(scraper: Client) -> None:
    response = scraper.get("/metrics", REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 401
    assert b"django_db_execute_total" not in response.content
