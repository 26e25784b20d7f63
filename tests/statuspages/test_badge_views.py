"""The badge endpoints: what each kind says, by slug and by key, and the metric opt-in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from metrics.stores import get_store
from tests.factories import (
    make_component,
    make_maintenance,
    make_source,
    make_status_page,
    payload,
    record,
)
from tests.statuspages.support import parse_xml

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


def texts(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    root = parse_xml(response.content)
    return [t.text or "" for t in root.iter(f"{SVG}text") if t.get("aria-hidden") is None]


@pytest.fixture
def component() -> Any:
    page = make_status_page("acme")
    fresh = timezone.now() - timedelta(seconds=5)
    source = make_source("eu-west", last_polled_at=fresh, last_success_at=fresh)
    return make_component(page, "API", [source])


def count_polls(slug: str, up: int, down: int, latency_ms: float = 120.0) -> None:
    store = get_store()
    now = timezone.now()
    for index in range(up):
        store.record_poll_outcome(slug, now - timedelta(minutes=index + 1), True, latency_ms)
    for index in range(down):
        store.record_poll_outcome(slug, now - timedelta(minutes=up + index + 1), False, None, "timeout")


def test_it_draws_the_component_state(client: Client, component: Any, django_capture_on_commit_callbacks: Any) -> None:
    assert texts(client.get(f"/status/acme/badges/{component.pk}/status.svg")) == ["API", "operational"]
    # The page's content is cached until a change commits (statuspages/generations.py).
    with django_capture_on_commit_callbacks(execute=True):
        make_maintenance(component.page, starts_in=-0.1, components=[component])
    by_key = client.get(f"/status/badges/{component.badge_key}/status.svg")
    assert texts(by_key) == ["API", "maintenance"]
    assert texts(client.get("/status/acme/badge.svg")) == ["Acme status", "maintenance"]


def test_it_draws_uptime_and_latency_from_the_availability_buckets(client: Client, component: Any) -> None:
    count_polls("eu-west", up=199, down=1)
    key = component.badge_key
    assert texts(client.get(f"/status/badges/{key}/uptime-24h.svg")) == ["uptime 24h", "99.50%"]
    assert texts(client.get(f"/status/badges/{key}/uptime-30d.svg")) == ["uptime 30d", "99.50%"]
    [label, value] = texts(client.get(f"/status/badges/{key}/latency.svg"))
    assert label == "latency p50 24h"
    assert value.endswith(" ms")
    assert abs(int(value.split()[0]) - 120) <= 120 * 0.0905 + 1  # the histogram's documented error bound


def test_it_merges_the_polls_of_every_source_of_a_component(client: Client, component: Any) -> None:
    other = make_source("us-east")
    component.sources.add(other)
    count_polls("eu-west", up=10, down=0)
    count_polls("us-east", up=0, down=10)
    assert texts(client.get(f"/status/badges/{component.badge_key}/uptime-7d.svg"))[1] == "50.00%"


def test_it_says_no_data_without_polls(client: Client, component: Any) -> None:
    assert texts(client.get(f"/status/badges/{component.badge_key}/uptime-7d.svg"))[1] == "no data"


def test_it_shows_a_metric_only_when_the_component_opted_in(
    client: Client, component: Any, django_capture_on_commit_callbacks: Any
) -> None:
    source = component.sources.get()
    source.metric_paths = {"cpu_load": "results.stats.server.cpu_load"}
    source.save()
    record(source, payload(**{"results.stats.server.cpu_load": 42.5}), timezone.now())
    url = f"/status/badges/{component.badge_key}/metric.svg"
    refused = client.get(url)
    assert refused.status_code == 404
    assert b"42.5" not in refused.content
    component.show_metric, component.show_metric_unit = "cpu_load", "%"
    with django_capture_on_commit_callbacks(execute=True):
        component.save()
    assert texts(client.get(url)) == ["cpu_load", "42.5 %"]


def test_it_takes_a_label_and_escapes_it(client: Client, component: Any) -> None:
    response = client.get(f"/status/acme/badges/{component.pk}/status.svg", {"label": "<b>ÄPI</b>"})
    assert texts(response) == ["<b>ÄPI</b>", "operational"]
    assert b"<b>" not in response.content


def test_it_refuses_unknown_kinds_and_components(client: Client, component: Any) -> None:
    assert client.get(f"/status/acme/badges/{component.pk}/secret.svg").status_code == 404
    assert client.get(f"/status/acme/badges/{component.pk + 99}/status.svg").status_code == 404
    component.published = False
    component.save()
    assert client.get(f"/status/acme/badges/{component.pk}/status.svg").status_code == 404
    assert client.get(f"/status/badges/{component.badge_key}/status.svg").status_code == 404


def test_it_lets_caches_keep_a_badge_and_revalidate_it(client: Client, component: Any) -> None:
    first = client.get(f"/status/badges/{component.badge_key}/status.svg")
    assert "max-age=60" in first["Cache-Control"]
    assert "sandbox" in first["Content-Security-Policy"]
    assert (
        client.get(f"/status/badges/{component.badge_key}/status.svg", HTTP_IF_NONE_MATCH=first["ETag"]).status_code
        == 304
    )


@pytest.mark.parametrize("component_id", ["abc", "-1", "1.5", "9" * 40])
def test_it_answers_a_malformed_component_id_in_the_error_shape(
    client: Client, component: Any, component_id: str
) -> None:
    response = client.get(f"/status/acme/badges/{component_id}/status.svg")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_bounds_a_long_label(client: Client, component: Any) -> None:
    response = client.get(f"/status/acme/badges/{component.pk}/status.svg", {"label": "x" * 10_000})
    [label, _value] = texts(response)
    assert len(label) == 64
    assert len(response.content) < 4000


def test_it_keeps_the_badge_key_out_of_every_cache_key(
    client: Client, component: Any, redis_settings: Any, redis_client: Any
) -> None:
    """The key is the badge's capability: whoever can list Redis's keys must not read it there."""
    key = component.badge_key
    for kind in ("status", "uptime-30d"):
        assert client.get(f"/status/badges/{key}/{kind}.svg").status_code == 200
    names = [name.decode() for name in redis_client.keys("*")]
    assert any("badge" in name for name in names), names  # the answers were cached, under other names
    assert not [name for name in names if key in name]
