"""The public status page: what it shows, what it never shows, who may see it, and what it costs."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from metrics.stores import get_store
from pollers.models import Source, SourceAlertLevel
from pollers.signals import health_changed
from statuspages import generations
from statuspages.content import content_key, content_scopes, version_key
from statuspages.hosts import could_be_custom
from statuspages.models import (
    HOST_NAME,
    Component,
    Impact,
    Incident,
    IncidentStatus,
    IncidentUpdate,
    MaintenanceWindow,
    Visibility,
)
from tests.factories import (
    add_member,
    bearer,
    make_component,
    make_incident,
    make_source,
    make_status_page,
    make_team,
    make_token,
    make_user,
    payload,
    record,
)
from tests.statuspages.support import WARM_SHARED_CACHE_READS, beyond_the_shared_cache

pytestmark = pytest.mark.django_db(transaction=True)

SECRETS = (
    "secret-upstream.internal",  # a source URL
    "api-key-in-query",
    "SECRET-ERROR-MESSAGE",  # an error message
    "connect_refused_kind",  # an error kind
    "PAYLOAD-SECRET-STRING",  # a payload string
    "HIDDEN-COMPONENT",  # an unpublished component's fields
    "hidden-description",
    "DRAFT-INCIDENT",  # a draft incident
    "us-east-secret",  # a source slug and name
    "Us East Secret",
    "1234.5",  # a metric value not opted in
)


def healthy(source: Source, **fields: Any) -> Source:
    now = timezone.now()
    Source.objects.filter(pk=source.pk).update(last_polled_at=now, last_success_at=now, **fields)
    source.refresh_from_db()
    return source


def failing(source: Source, message: str = "", kind: str = "timeout") -> Source:
    now = timezone.now()
    Source.objects.filter(pk=source.pk).update(
        last_polled_at=now,
        last_success_at=now - timedelta(minutes=1),
        last_error_at=now,
        consecutive_failures=3,
        last_error_message=message,
        last_error_kind=kind,
    )
    source.refresh_from_db()
    return source


@pytest.fixture
def page() -> Any:
    return make_status_page("acme", title="Acme status", description="We run **things**.")


def get(client: Client, url: str, **extra: Any) -> Any:
    return client.get(url, **extra)


# --- what it shows -------------------------------------------------------------------------------


def test_it_shows_states_90_day_bars_incidents_and_maintenance(client: Client, page: Any) -> None:
    api = healthy(make_source("api-1"))
    db = failing(make_source("db-1"))
    now = timezone.now()
    for minute in range(4):
        from metrics.stores import get_store

        get_store().record_poll_outcome(
            "api-1", now - timedelta(minutes=minute), minute != 0, 20.0, "" if minute else "timeout"
        )
    make_component(page, "Public API", [api], order=1)
    database = make_component(page, "Database", [db], order=2)
    incident = Incident.objects.create(page=page, title="Slow queries", impact=Impact.MINOR)
    incident.components.add(database)
    IncidentUpdate.objects.create(incident=incident, status=IncidentStatus.INVESTIGATING, body="Looking *into* it.")
    MaintenanceWindow.objects.create(
        page=page, title="Upgrade", starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=1, hours=1)
    )

    response = get(client, "/status/acme/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Major outage" in html  # the overall state: the only source of Database is down
    assert re.search(r'sp-state-major_outage" data-component="\d+"', html)
    assert html.count('class="sp-bar ') == 180  # 90 per component
    assert "75 % uptime" in html  # 3 of 4 polls up today
    assert "<em>into</em>" in html
    assert "Slow queries" in html
    assert "Upgrade" in html
    assert "We run <strong>things</strong>." in html


def test_it_shows_an_open_incident_however_many_newer_ones_were_resolved(client: Client, page: Any) -> None:
    # The page keeps at most 30 incidents; it used to keep the 30 newest, so an outage that began three days
    # ago vanished from the page (still open, still in the v2 JSON) behind 30 short blips resolved since.
    now = timezone.now()
    make_incident(page, "Long running outage", started_at=now - timedelta(days=3))
    for index in range(30):
        make_incident(
            page,
            f"Blip {index}",
            updates=(("investigating", "Looking."), ("resolved", "Gone.")),
            started_at=now - timedelta(hours=30 - index),
            resolved_at=now - timedelta(hours=29 - index),
        )

    html = get(client, "/status/acme/").content.decode()

    assert "Long running outage" in html
    assert "Blip 29" in html  # the newest resolved ones fill what is left
    assert "Blip 0" not in html


def test_it_says_all_operational_and_maintenance_overrides(client: Client, page: Any) -> None:
    api = healthy(make_source("api-1"))
    db = failing(make_source("db-1"))
    make_component(page, "Public API", [api], order=1)
    database = make_component(page, "Database", [db], order=2)
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        page=page, title="Failover", starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=1)
    )
    window.components.add(database)

    state = get(client, "/status/acme/state.json").json()

    assert state["overall"] == {"state": "under_maintenance", "label": "Maintenance in progress"}
    assert [c["state"] for c in state["components"]] == ["operational", "under_maintenance"]


def test_it_shows_a_health_change_at_once_despite_the_cache(client: Client, page: Any) -> None:
    api = healthy(make_source("api-1"))
    make_component(page, "Public API", [api])
    assert get(client, "/status/acme/state.json").json()["overall"]["state"] == "operational"

    failing(api)
    health_changed.send_robust(sender=Source, source=api, status="failing", detail={})

    assert get(client, "/status/acme/state.json").json()["overall"]["state"] == "major_outage"


@pytest.mark.parametrize("through", ["api", "orm"])
def test_it_drops_a_deleted_source_at_once_despite_the_cache(client: Client, page: Any, through: str) -> None:
    up, down = healthy(make_source("api-1")), failing(make_source("api-2"))
    make_component(page, "Public API", [up, down])
    assert get(client, "/status/acme/state.json").json()["overall"]["state"] == "partial_outage"

    if through == "api":  # a DELETE /api/v1/sources/<slug>
        response = client.delete("/api/v1/sources/api-2", **bearer(make_token("admin", role=Role.ADMIN)))
        assert response.status_code == 204
    else:  # the admin's and a configuration apply's deletion: the row alone
        Source.objects.filter(slug="api-2").delete()

    assert get(client, "/status/acme/state.json").json()["overall"]["state"] == "operational"


def test_it_reads_a_critical_alert_as_partial_outage(client: Client, page: Any) -> None:
    api = healthy(make_source("api-1"), alert_state=SourceAlertLevel.CRITICAL)
    make_component(page, "Public API", [api])
    assert get(client, "/status/acme/state.json").json()["components"][0]["state"] == "partial_outage"


def test_it_shows_nothing_of_a_source_moved_to_another_team(client: Client, page: Any) -> None:
    # A component followed its sources by id: moved to another team, a source's outage and numbers stayed
    # on its old team's (public) page.
    api = failing(make_source("api-1", metric_paths={"rps": "rps"}), message="SECRET-ERROR-MESSAGE")
    record(api, {"rps": 42.5}, timezone.now())
    make_component(page, "Public API", [api], show_metric="rps", show_metric_unit="req/s")
    assert get(client, "/status/acme/state.json").json()["components"][0]["state"] == "major_outage"
    api.team = make_team("red")
    api.save()
    assert get(client, "/status/acme/state.json").json()["components"][0]["state"] == "operational"
    assert "42.5" not in get(client, "/status/acme/").content.decode()
    api.team = page.team
    api.save()
    assert get(client, "/status/acme/state.json").json()["components"][0]["state"] == "major_outage"


def test_it_shows_an_opted_in_metric_and_no_other(client: Client, page: Any) -> None:
    api = healthy(make_source("api-1", metric_paths={"rps": "rps", "secret_gauge": "gauge"}))
    record(api, {"rps": 42.5, "gauge": 1234.5}, timezone.now())
    make_component(page, "Public API", [api], show_metric="rps", show_metric_unit="req/s")
    html = get(client, "/status/acme/").content.decode()
    assert "42.5 req/s" in html
    assert "1234.5" not in html
    assert "secret_gauge" not in html


# --- what it never shows ---------------------------------------------------------------------------


def test_it_leaks_nothing_of_sources_unpublished_components_or_drafts(client: Client, page: Any) -> None:
    secret = make_source(
        "us-east-secret",
        url="http://secret-upstream.internal/status?api-key-in-query=1",
        metric_paths={"hidden": "results.note", "n": "n"},
    )
    failing(secret, message="SECRET-ERROR-MESSAGE", kind="connect_refused_kind")
    record(secret, {**payload(), "results": {"note": "PAYLOAD-SECRET-STRING"}, "n": 1234.5}, timezone.now())
    get_store().record_poll_outcome("us-east-secret", timezone.now(), False, None, "connect_refused_kind")
    shown = make_component(page, "Checkout", [secret])
    hidden = make_component(page, "HIDDEN-COMPONENT", [secret], published=False, description="hidden-description")
    incident = Incident.objects.create(page=page, title="Checkout errors")
    incident.components.add(shown, hidden)
    IncidentUpdate.objects.create(incident=incident, status=IncidentStatus.IDENTIFIED, body="A fix is rolling out.")
    Incident.objects.create(page=page, title="DRAFT-INCIDENT", is_draft=True).components.add(shown)
    window = MaintenanceWindow.objects.create(
        page=page,
        title="Disk swap",
        starts_at=timezone.now() + timedelta(hours=1),
        ends_at=timezone.now() + timedelta(hours=2),
    )
    window.components.add(hidden)

    html = get(client, "/status/acme/").content.decode()
    state = get(client, "/status/acme/state.json").content.decode()

    assert "Checkout errors" in html  # the published parts are there
    assert "A fix is rolling out." in html
    assert f'data-component="{shown.pk}"' in html
    for body in (html, state):
        for secret_text in SECRETS:
            assert secret_text not in body, secret_text
        assert str(hidden.pk) not in re.findall(r'data-component="(\d+)"', body)
        assert hidden.badge_key not in body
        assert shown.badge_key not in body


def test_it_sets_no_cookie_no_csrf_token_no_admin_link_and_a_strict_csp(client: Client, page: Any) -> None:
    make_component(page, "Public API", [healthy(make_source("api-1"))])
    for url in ("/status/acme/", "/status/acme/state.json"):
        response = get(client, url)
        assert response.status_code == 200
        assert not response.cookies, url
        assert "Set-Cookie" not in response.headers
        assert "Cookie" not in response.headers.get("Vary", "")
        body = response.content.decode()
        assert "csrfmiddlewaretoken" not in body
        assert "/admin/" not in body
        assert "/manage/" not in body
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
    assert "public" in get(client, "/status/acme/").headers["Cache-Control"]


def test_it_allows_the_logo_host_in_the_policy_and_nothing_more(client: Client) -> None:
    make_status_page("logo", logo="https://cdn.example.com/logo.png")
    policy = get(client, "/status/logo/").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["img-src"] == "'self' data: https://cdn.example.com"
    assert directives["script-src"] == "'self'"


def test_it_writes_nothing_of_a_logo_url_into_the_policy_but_its_origin(client: Client) -> None:
    """A ';' in the logo's host wrote directives of its own into the page's policy (here: where browsers send
    every visitor's violation reports)."""
    make_status_page("logo", logo="https://cdn.example.com;report-uri https:\\evil.example\\r/logo.png")
    make_status_page("port", logo="https://cdn.example.com:8443/logo.png")
    policy = get(client, "/status/logo/").headers["Content-Security-Policy"]
    assert "report-uri" not in policy
    assert "evil" not in policy
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["img-src"] == "'self' data:"
    port = get(client, "/status/port/").headers["Content-Security-Policy"]
    assert dict(part.strip().split(" ", 1) for part in port.split(";"))["img-src"] == (
        "'self' data: https://cdn.example.com:8443"
    )


# --- cost -----------------------------------------------------------------------------------------


def test_it_renders_20_components_cold_in_at_most_10_round_trips_and_warm_in_none(client: Client, page: Any) -> None:
    for index in range(20):
        make_component(page, f"Service {index}", [healthy(make_source(f"svc-{index}"))], show_metric="cpu_load")
    incident = Incident.objects.create(page=page, title="Blip")
    IncidentUpdate.objects.create(incident=incident, status=IncidentStatus.MONITORING, body="Watching.")

    with CaptureQueriesContext(connection) as cold:
        assert get(client, "/status/acme/").status_code == 200
    with CaptureQueriesContext(connection) as warm:
        assert get(client, "/status/acme/").status_code == 200

    # The SQL metric store shares the default database, so every store round trip is counted here too.
    # Not counted: the generations in the shared cache's table (Redis with REDIS_URL, where bench/status_page.py
    # measures 0 queries warm), which a warm page reads too.
    assert len(beyond_the_shared_cache(cold.captured_queries)) <= 10, beyond_the_shared_cache(cold.captured_queries)
    assert beyond_the_shared_cache(warm.captured_queries) == []
    assert len(warm.captured_queries) <= WARM_SHARED_CACHE_READS


def test_it_serves_its_cached_html_only_while_the_content_it_came_from_is_the_cached_one(
    client: Client, page: Any
) -> None:
    component = make_component(page, "Public API", [healthy(make_source("api-1"))])
    assert "Public API" in get(client, "/status/acme/").content.decode()  # rendered and cached
    # A change no receiver reports (so no generation moves), then the cached content expires: the
    # content is built again, and the HTML rendered from the old content must not outlive it.
    Component.objects.filter(pk=component.pk).update(name="Public REST API")
    generation = generations.current(*content_scopes(page))
    assert generation is not None
    cache.delete_many([content_key(page.pk, generation), version_key(page.pk)])

    html = get(client, "/status/acme/").content.decode()

    assert "Public REST API" in html
    assert get(client, "/status/acme/state.json").json()["version"] in html


# --- who may see it -------------------------------------------------------------------------------


def test_it_hides_an_unpublished_page_from_all_but_its_team(client: Client, page: Any) -> None:
    page.published = False
    page.save()
    assert get(client, "/status/acme/").status_code == 404
    outsider = make_user("outsider")
    client.force_login(outsider)
    assert get(client, "/status/acme/").status_code == 404
    viewer = make_user("viewer")
    add_member(viewer, page.team, Role.VIEWER)
    client.force_login(viewer)
    response = get(client, "/status/acme/")
    assert response.status_code == 200
    assert "Preview: this page is not published" in response.content.decode()
    assert "no-store" in response.headers["Cache-Control"]


def test_it_opens_a_members_page_to_team_readers_only(client: Client) -> None:
    members = make_status_page("inside", visibility=Visibility.MEMBERS)
    response = get(client, "/status/inside/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login/?next=/status/inside/")
    client.force_login(make_user("outsider"))
    assert get(client, "/status/inside/").status_code == 404
    reader = make_user("reader")
    add_member(reader, members.team, Role.VIEWER)
    client.force_login(reader)
    assert get(client, "/status/inside/").status_code == 200
    assert get(client, "/status/inside/state.json").status_code == 200


def test_it_unlocks_a_password_page_with_a_cookie_scoped_to_it(client: Client) -> None:
    locked = make_status_page("locked", visibility=Visibility.PASSWORD, password="open sesame 42")
    form = get(client, "/status/locked/")
    assert form.status_code == 401
    assert 'name="password"' in form.content.decode()
    assert "csrfmiddlewaretoken" not in form.content.decode()
    assert get(client, "/status/locked/state.json").status_code == 403

    wrong = client.post("/status/locked/unlock/", {"password": "guess"})
    assert wrong.status_code == 401
    assert "not right" in wrong.content.decode()

    right = client.post("/status/locked/unlock/", {"password": "open sesame 42"})
    assert right.status_code == 303
    cookie = right.cookies[f"statuspage_{locked.pk}"]
    assert cookie["path"] == "/status/locked/"
    assert cookie["httponly"]
    assert "sessionid" not in right.cookies
    assert get(client, "/status/locked/").status_code == 200

    locked.set_password("a new password 43")
    locked.save()
    assert get(client, "/status/locked/").status_code == 401  # the old cookie ends with the old password


def test_it_refuses_a_forged_unlock_cookie(client: Client) -> None:
    locked = make_status_page("locked", visibility=Visibility.PASSWORD, password="open sesame 42")
    other = make_status_page("other", visibility=Visibility.PASSWORD, password="open sesame 42")
    client.post("/status/other/unlock/", {"password": "open sesame 42"})
    stolen = client.cookies[f"statuspage_{other.pk}"].value
    client.cookies[f"statuspage_{locked.pk}"] = stolen  # another page's cookie
    assert get(client, "/status/locked/").status_code == 401
    client.cookies[f"statuspage_{locked.pk}"] = "garbage:value"
    assert get(client, "/status/locked/").status_code == 401


def test_it_resists_guessing_a_page_password(client: Client, settings: Any) -> None:
    settings.STATUS_PAGE_PASSWORD_RATE_LIMIT = "3/d"  # a day: the test never straddles a fixed window
    make_status_page("locked", visibility=Visibility.PASSWORD, password="open sesame 42")
    for attempt in range(3):
        assert client.post("/status/locked/unlock/", {"password": f"guess {attempt}"}).status_code == 401
    refused = client.post("/status/locked/unlock/", {"password": "open sesame 42"})
    assert refused.status_code == 429  # even the right password, until the window ends
    assert int(refused.headers["Retry-After"]) >= 1
    # Another client IP is not affected.
    other = Client(REMOTE_ADDR="10.9.9.9")
    assert other.post("/status/locked/unlock/", {"password": "open sesame 42"}).status_code == 303


def test_it_rate_limits_each_client_ip(client: Client, settings: Any, page: Any) -> None:
    settings.STATUS_PAGE_RATE_LIMIT_IP = "3/d"  # a day: the test never straddles a fixed window
    for _ in range(3):
        assert get(client, "/status/acme/").status_code == 200
    refused = get(client, "/status/acme/")
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert get(Client(REMOTE_ADDR="10.1.2.3"), "/status/acme/").status_code == 200


def test_it_rate_limits_an_ipv6_client_by_its_64_network(client: Client, settings: Any, page: Any) -> None:
    settings.STATUS_PAGE_RATE_LIMIT_IP = "2/d"
    for address in ("2001:db8:1:2::1", "2001:db8:1:2::2"):
        assert get(Client(REMOTE_ADDR=address), "/status/acme/").status_code == 200
    assert get(Client(REMOTE_ADDR="2001:db8:1:2::3"), "/status/acme/").status_code == 429
    assert get(Client(REMOTE_ADDR="2001:db8:1:3::1"), "/status/acme/").status_code == 200


def test_it_serves_a_page_at_the_root_of_its_custom_host(client: Client, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["testserver", "status.acme.example"]
    make_status_page("acme", custom_host="status.acme.example", title="Acme status")
    response = get(client, "/", HTTP_HOST="status.acme.example")
    assert response.status_code == 200
    assert "Acme status" in response.content.decode()
    assert 'data-state-url="/state.json"' in response.content.decode()
    assert get(client, "/state.json", HTTP_HOST="status.acme.example").status_code == 200
    # Nothing else of the product answers on that name.
    assert get(client, "/accounts/login/", HTTP_HOST="status.acme.example").status_code == 404
    # A name not in ALLOWED_HOSTS is refused as anywhere.
    assert get(client, "/", HTTP_HOST="status.other.example").status_code == 400


def test_it_never_serves_a_page_in_place_of_the_product(client: Client, settings: Any) -> None:
    """A page that holds the product's own name (saved before that was refused) does not take the product over."""
    settings.SITE_URL = "https://insights.example.com"
    settings.ALLOWED_HOSTS = ["testserver", "insights.example.com"]
    make_status_page("acme", custom_host="insights.example.com", title="Acme status")
    login = get(client, "/accounts/login/", HTTP_HOST="insights.example.com")
    assert login.status_code == 200
    assert "Acme status" not in login.content.decode()
    assert get(client, "/", HTTP_HOST="insights.example.com").status_code == 302  # the overview: to sign in
    assert get(client, "/status/acme/", HTTP_HOST="insights.example.com").status_code == 200  # still at its path


def test_it_answers_404_for_an_unknown_page(client: Client) -> None:
    assert get(client, "/status/nope/").status_code == 404


@pytest.mark.parametrize(
    ("host", "looked_up"),
    [
        ("status.acme.example", True),
        ("status.acme.example.", False),  # request_host strips the dot before asking
        ("localhost", False),
        ("testserver", False),
        ("127.0.0.1", False),
        ("10.0.0.12", False),
        ("[::1]", False),
    ],
)
def test_it_looks_up_only_names_shaped_like_a_custom_host(host: str, looked_up: bool) -> None:
    assert could_be_custom(host) is looked_up


@pytest.mark.parametrize("host", ["status.acme.example", "a.b.co"])
def test_it_accepts_a_dotted_host_name(host: str) -> None:
    HOST_NAME(host)


@pytest.mark.parametrize(
    "host", ["localhost", "10.0.0.12", "Status.Acme.Example", "https://x.example", "x.example:443"]
)
def test_it_refuses_a_custom_host_that_is_not_a_plain_dotted_name(host: str) -> None:
    with pytest.raises(ValidationError):
        HOST_NAME(host)
