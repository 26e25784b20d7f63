"""Nothing behind a page leaks through its feeds, v2 JSON or badges: no source URL, name or slug, no error
text, no payload string, no metric value a component did not opt in to, nothing of an unpublished
component, no draft incident."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from metrics.stores import get_store
from tests.factories import (
    make_component,
    make_incident,
    make_maintenance,
    make_source,
    make_status_page,
    payload,
    record,
)
from tests.statuspages.support import FEED_ROUTES as ROUTES
from tests.statuspages.support import KINDS

pytestmark = pytest.mark.django_db

SECRETS = (
    "internal-secret.example",
    "URL-SECRET-TOKEN",
    "Secret Source Name",
    "hidden-slug-x",
    "ERROR-TEXT-SECRET",
    "http_503",  # the error kind
    "PAYLOAD-SECRET-STRING",
    "87.654",
    "87.65",
    "Hidden Component Name",
    "hidden component description",
    "Draft Incident Secret",
    "draft update secret",
)


@pytest.fixture
def page() -> Any:
    page = make_status_page("acme")
    now = timezone.now()
    source = make_source(
        "hidden-slug-x",
        name="Secret Source Name",
        url="http://internal-secret.example:8443/status?token=URL-SECRET-TOKEN",
        metric_paths={"cpu_load": "results.stats.server.cpu_load", "online": "results.stats.online"},
        last_polled_at=now,
        last_success_at=now - timedelta(minutes=1),
        consecutive_failures=2,
        last_error_at=now,
        last_error_kind="http_503",
        last_error_message="ERROR-TEXT-SECRET from upstream",
    )
    record(source, payload(**{"status": "PAYLOAD-SECRET-STRING", "results.stats.server.cpu_load": 87.654}), now)
    store = get_store()
    store.record_poll_outcome(source.slug, now - timedelta(minutes=2), True, 80.0)
    store.record_poll_outcome(source.slug, now - timedelta(minutes=1), False, None, "http_503")
    public = make_component(page, "API", [source], show_metric="online", show_metric_unit="users")
    hidden = make_component(
        page, "Hidden Component Name", [source], published=False, description="hidden component description"
    )
    make_incident(page, "Visible incident", [("investigating", "We see errors.")], [public, hidden])
    make_incident(page, "Draft Incident Secret", [("investigating", "draft update secret")], [public], is_draft=True)
    make_maintenance(page, "Visible maintenance", starts_in=-0.1, components=[public, hidden])
    page.hidden = hidden  # type: ignore[attr-defined]
    page.public = public  # type: ignore[attr-defined]
    return page


def assert_clean(body: bytes, where: str) -> None:
    text = body.decode()
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked through {where}"


def test_it_leaks_nothing_through_feeds_and_json(client: Client, page: Any) -> None:
    for route in ROUTES:
        response = client.get(f"/status/acme/{route}")
        assert response.status_code == 200, route
        assert_clean(response.content, route)


def test_it_leaks_nothing_through_badges(client: Client, page: Any) -> None:
    public, hidden = page.public, page.hidden
    for kind in KINDS:
        for url in (f"/status/acme/badges/{public.pk}/{kind}.svg", f"/status/badges/{public.badge_key}/{kind}.svg"):
            response = client.get(url)
            assert response.status_code == 200, url
            assert_clean(response.content, url)
        for url in (f"/status/acme/badges/{hidden.pk}/{kind}.svg", f"/status/badges/{hidden.badge_key}/{kind}.svg"):
            response = client.get(url)
            assert response.status_code == 404, url
            assert_clean(response.content, url)
    # The one value published on purpose: the opted-in metric, in its own badge only.
    assert b"57 users" in client.get(f"/status/badges/{public.badge_key}/metric.svg").content


def test_it_leaks_nothing_in_refusals(client: Client, page: Any) -> None:
    page.visibility = "password"
    page.set_password("open sesame")
    page.save()
    for route in ROUTES:
        response = client.get(f"/status/acme/{route}")
        assert response.status_code == 401
        assert_clean(response.content, route)
        assert b"Visible incident" not in response.content
