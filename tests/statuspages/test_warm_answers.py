"""Every public answer of a page is served warm without a database query, shows a change at once (the page's
generations, statuspages/answers.py), and a database pool that lends no connection in time gives a short
503, never a 500 (statuspages/busy.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from psycopg_pool import ConnectionPool, PoolTimeout

from statuspages import generations
from statuspages.answers import answer_key
from statuspages.busy import RETRY_AFTER_SECONDS, degrade_when_busy
from statuspages.content import content_scopes, version_key
from statuspages.models import Component
from tests.factories import make_component, make_incident, make_maintenance, make_source, make_status_page
from tests.statuspages.support import FEED_ROUTES, KINDS, WARM_SHARED_CACHE_READS, beyond_the_shared_cache

pytestmark = pytest.mark.django_db

PAGE_ROUTES = ("", "state.json", *FEED_ROUTES)


@pytest.fixture
def component() -> Component:
    page = make_status_page("acme", title="Acme status")
    now = timezone.now()
    source = make_source("eu-west", last_polled_at=now, last_success_at=now)
    component = make_component(page, "API", [source], show_metric="cpu_load", show_metric_unit="%")
    make_incident(page, "Elevated errors", [("investigating", "Looking.")], [component])
    make_maintenance(page, "Upgrade", starts_in=24, components=[component])
    return component


def urls(component: Component) -> list[str]:
    found = [f"/status/acme/{route}" for route in PAGE_ROUTES]
    found += [f"/status/acme/badges/{component.pk}/{kind}.svg" for kind in KINDS]
    found += [f"/status/badges/{component.badge_key}/{kind}.svg" for kind in KINDS]
    return found


def test_it_answers_every_public_route_warm_without_a_database_query(client: Client, component: Component) -> None:
    for url in urls(component):
        cold = client.get(url)
        assert cold.status_code == 200, (url, cold.content[:200])
        with CaptureQueriesContext(connection) as warm:
            again = client.get(url)
        # The SQL metric store shares the default database, so a store round trip would be counted too.
        assert beyond_the_shared_cache(warm.captured_queries) == [], url
        assert len(warm.captured_queries) <= WARM_SHARED_CACHE_READS, url
        assert again.status_code == 200
        assert again.content == cold.content, url


def test_it_answers_a_missing_badge_warm_without_a_database_query(client: Client, component: Component) -> None:
    for url in ("/status/acme/badges/999999/status.svg", "/status/badges/no-such-key/status.svg"):
        assert client.get(url).status_code == 404
        with CaptureQueriesContext(connection) as warm:
            assert client.get(url).status_code == 404
        assert beyond_the_shared_cache(warm.captured_queries) == [], url
        assert len(warm.captured_queries) <= WARM_SHARED_CACHE_READS, url


def test_it_shows_a_new_incident_in_warm_answers_at_once(
    client: Client, component: Component, django_capture_on_commit_callbacks: Any
) -> None:
    assert "Database fire" not in client.get("/status/acme/api/v2/summary.json").content.decode()
    assert "Database fire" not in client.get("/status/acme/feed.atom").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        make_incident(component.page, "Database fire", [("identified", "Found it.")], [component])
    assert "Database fire" in client.get("/status/acme/api/v2/summary.json").content.decode()
    assert "Database fire" in client.get("/status/acme/api/v2/incidents.json").content.decode()
    assert "Database fire" in client.get("/status/acme/feed.atom").content.decode()
    assert "Database fire" in client.get("/status/acme/feed.json").content.decode()
    assert "Database fire" in client.get("/status/acme/").content.decode()


def test_it_stops_a_warm_badge_at_once_when_its_key_rotates_or_its_component_is_unpublished(
    client: Client, component: Component, django_capture_on_commit_callbacks: Any
) -> None:
    old_key = component.badge_key
    assert client.get(f"/status/badges/{old_key}/status.svg").status_code == 200
    assert client.get(f"/status/acme/badges/{component.pk}/status.svg").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        component.rotate_badge_key()
        component.save()
    assert client.get(f"/status/badges/{old_key}/status.svg").status_code == 404
    assert client.get(f"/status/badges/{component.badge_key}/status.svg").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        component.published = False
        component.save()
    assert client.get(f"/status/badges/{component.badge_key}/status.svg").status_code == 404
    assert client.get(f"/status/acme/badges/{component.pk}/status.svg").status_code == 404
    assert client.get("/status/acme/api/v2/components.json").json()["components"] == []


def test_it_hides_a_warm_badge_of_a_page_that_is_unpublished(
    client: Client, component: Component, django_capture_on_commit_callbacks: Any
) -> None:
    assert client.get(f"/status/badges/{component.badge_key}/status.svg").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        component.page.published = False
        component.page.save()
    assert client.get(f"/status/badges/{component.badge_key}/status.svg").status_code == 404
    assert client.get("/status/acme/api/v2/summary.json").status_code == 404


def test_it_labels_each_request_of_a_warm_badge_its_own_way(client: Client, component: Component) -> None:
    url = f"/status/badges/{component.badge_key}/status.svg"
    assert b"Gateway" in client.get(url, {"label": "Gateway"}).content
    plain = client.get(url).content
    assert b"Gateway" not in plain
    assert b">API<" in plain


def test_it_keys_a_feed_by_its_address_not_by_the_query(client: Client, component: Component) -> None:
    feed = client.get("/status/acme/feed.json", {"utm_source": "x" * 50}).json()
    assert feed["feed_url"] == "http://testserver/status/acme/feed.json"


def test_it_serves_the_copy_of_the_same_generation_while_another_request_makes_the_answer(
    client: Client, component: Component
) -> None:
    url = "/status/acme/api/v2/summary.json"
    made = client.get(url).content
    # The content expires (time passed, nothing changed) while another request holds the making lock:
    # this one answers with the copy made under the same generation, without querying the database.
    generation = generations.current(*content_scopes(component.page))
    assert generation is not None
    cache.delete(version_key(component.page.pk))
    key = answer_key(component.page.pk, "v2:summary:http://testserver/status/acme/")
    assert cache.add(f"{key}:making:{generation}", 1, 60)
    with CaptureQueriesContext(connection) as waiting:
        assert client.get(url).content == made
    assert beyond_the_shared_cache(waiting.captured_queries) == []

    cache.delete(f"{key}:making:{generation}")  # the other request is done, or died: this one makes it
    with CaptureQueriesContext(connection) as making:
        assert client.get(url).status_code == 200
    assert making.captured_queries != []


# --- a pool that lends no connection in time ---------------------------------------------------------------


@pytest.fixture
def exhausted_pool(postgres_url: str) -> Iterator[ConnectionPool]:
    """A real psycopg pool of one connection, lent out: the next ``getconn`` times out."""
    pool = ConnectionPool(postgres_url, min_size=0, max_size=1, timeout=0.2, open=True)
    held = pool.getconn()
    yield pool
    pool.putconn(held)
    pool.close()


def borrow(pool: ConnectionPool) -> None:
    try:
        pool.getconn()
    except PoolTimeout as error:
        raise OperationalError(str(error)) from error  # as Django's wrap_database_errors raises it


def test_it_answers_a_pool_timeout_with_a_short_503_not_a_500(exhausted_pool: ConnectionPool) -> None:
    @degrade_when_busy(lambda message: HttpResponse(message))
    def view(request: HttpRequest) -> HttpResponse:
        borrow(exhausted_pool)
        return HttpResponse("never")

    response = view(RequestFactory().get("/status/acme/"))

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "no-store" in response["Cache-Control"]
    assert b"busy" in response.content


def test_it_leaves_other_database_errors_alone() -> None:
    @degrade_when_busy(lambda message: HttpResponse(message))
    def view(request: HttpRequest) -> HttpResponse:
        raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(OperationalError):
        view(RequestFactory().get("/status/acme/"))


def test_it_wraps_every_public_view() -> None:
    from statuspages import feed_urls, host_urls, urls

    public = [p for p in urls.urlpatterns if str(p.pattern).startswith("status/")]
    routes = [*public, *host_urls.urlpatterns[:3], *feed_urls.page_routes, *feed_urls.urlpatterns[1:]]
    views = [p.callback for p in routes]
    unwrapped = [view.__name__ for view in views if not _wrapped_by_busy(view)]
    assert unwrapped == []


def _wrapped_by_busy(view: Any) -> bool:
    while view is not None:
        if getattr(view, "__code__", None) is not None and view.__code__.co_filename.endswith("statuspages/busy.py"):
            return True
        view = getattr(view, "__wrapped__", None)
    return False
