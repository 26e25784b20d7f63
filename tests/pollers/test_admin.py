"""The Source admin (health columns, masked headers, SSRF-checked URL, actions) and the read-only poller list."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from pollers.models import MASK, PollerProcess, Source
from tests.factories import make_source
from tests.pollers.support import form_rows
from tests.simulator import RunningSimulator

pytestmark = pytest.mark.django_db


def form_data(source: Source, **overrides: Any) -> dict[str, Any]:
    """What the change page posts back: tags comma-separated, mappings as rows, lists one per line."""
    data: dict[str, Any] = {
        "team": source.team_id,
        "slug": source.slug,
        "name": source.name,
        "url": source.url,
        "enabled": "on" if source.enabled else "",
        "region": source.region,
        "tags": ", ".join(source.tags),
        "interval_seconds": source.interval_seconds,
        "timeout_seconds": source.timeout_seconds,
        **form_rows("headers", source.masked_headers()),
        **form_rows("metric_paths", source.metric_paths),
        "volatile_paths": "\n".join(source.volatile_paths),
        "pinned_metrics": "\n".join(source.pinned_metrics),
        "tls_verify": "on" if source.tls_verify else "",  # a checkbox left out would turn verification off
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


@pytest.fixture
def source(allow_loopback: Any) -> Source:
    return make_source(
        "us-east",
        name="US East",
        region="",  # the list's region filter would name the slug where the health filter must hide it
        url="http://127.0.0.1:9/status/us-east?stats=1",
        headers={"Authorization": "Bearer stored-secret", "X-Team": "ops"},
        consecutive_failures=3,
        last_polled_at=timezone.now(),
        last_error_kind="timeout",
    )


def test_it_lists_sources_with_their_health(admin_client: Client, source: Source) -> None:
    page = admin_client.get("/admin/pollers/source/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "failing (3)" in text
    assert "timeout" in text
    assert admin_client.get("/admin/pollers/source/?health=failing").content.decode().count("us-east") >= 1
    assert (
        "us-east"
        not in admin_client.get("/admin/pollers/source/?health=healthy").content.decode().split("result_list")[-1]
    )
    assert admin_client.get("/admin/pollers/source/?q=east").status_code == 200


def test_it_masks_secret_header_values_and_keeps_them_unless_changed(admin_client: Client, source: Source) -> None:
    page = admin_client.get(f"/admin/pollers/source/{source.pk}/change/").content.decode()
    assert "stored-secret" not in page
    assert MASK in page
    assert "ops" in page

    response = admin_client.post(f"/admin/pollers/source/{source.pk}/change/", form_data(source, name="Renamed"))
    assert response.status_code == 302, response.content.decode()[:2000]
    source.refresh_from_db()
    assert source.name == "Renamed"
    assert source.headers == {"Authorization": "Bearer stored-secret", "X-Team": "ops"}

    new_headers = form_rows("headers", {"Authorization": "Bearer rotated", "X-Team": "ops"})
    response = admin_client.post(f"/admin/pollers/source/{source.pk}/change/", form_data(source, **new_headers))
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.headers["Authorization"] == "Bearer rotated"


def test_it_refuses_a_mask_with_nothing_behind_it_and_bad_headers(admin_client: Client, source: Source) -> None:
    for rows, message in [
        ([("X-Api-Key", MASK)], "has no stored value"),
        ([("X-Count", "")], "&#x27;X-Count&#x27; has no value."),
        ([("", "orphan")], "has no name."),
        ([("X-Team", "a"), ("X-Team", "b")], "Each name once: X-Team"),
        ([("Bad\nName", "v")], "invalid name or value"),
    ]:
        response = admin_client.post(
            f"/admin/pollers/source/{source.pk}/change/", form_data(source, **form_rows("headers", rows))
        )
        assert response.status_code == 200
        assert message in response.content.decode()
    source.refresh_from_db()
    assert source.headers == {"Authorization": "Bearer stored-secret", "X-Team": "ops"}


def test_it_refuses_urls_the_ssrf_guard_refuses(admin_client: Client, source: Source, settings: Any) -> None:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = []
    for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "ftp://example.com/x"):
        response = admin_client.post(f"/admin/pollers/source/{source.pk}/change/", form_data(source, url=url))
        assert response.status_code == 200
        assert "errorlist" in response.content.decode()
    source.refresh_from_db()
    assert source.url == "http://127.0.0.1:9/status/us-east?stats=1"


def test_it_enables_and_disables_sources(admin_client: Client, source: Source) -> None:
    admin_client.post(
        "/admin/pollers/source/", {"action": "disable_sources", "_selected_action": [source.pk]}, follow=True
    )
    source.refresh_from_db()
    assert not source.enabled
    admin_client.post("/admin/pollers/source/", {"action": "enable_sources", "_selected_action": [source.pk]})
    source.refresh_from_db()
    assert source.enabled


@pytest.mark.django_db(transaction=True)
def test_it_polls_now_from_the_list(admin_client: Client, simulator: RunningSimulator, allow_loopback: Any) -> None:
    good = make_source("eu-west", url=simulator.url("eu-west"), timeout_seconds=1)
    bad = make_source("broken", url=simulator.url("broken", "fault=not_json"), timeout_seconds=1)
    response = admin_client.post(
        "/admin/pollers/source/", {"action": "poll_now", "_selected_action": [good.pk, bad.pk]}, follow=True
    )
    text = response.content.decode()
    assert "Poll of eu-west: ok in" in text
    assert "Poll of broken failed: not_json: the body is not JSON" in text
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.last_success_at is not None
    assert bad.last_error_kind == "not_json"


def test_it_shows_poller_processes_read_only(admin_client: Client) -> None:
    PollerProcess.register("host:1:abc", "host", 1, "redis")
    page = admin_client.get("/admin/pollers/pollerprocess/")
    assert page.status_code == 200
    assert "host:1:abc" in page.content.decode()
    assert admin_client.get("/admin/pollers/pollerprocess/add/").status_code == 403
    process = PollerProcess.objects.get()
    response = admin_client.post(f"/admin/pollers/pollerprocess/{process.pk}/change/", {"pid": 2})
    assert response.status_code == 403
    assert PollerProcess.objects.get().pid == 1


def add_form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": "added",
        "name": "Added",
        "url": "http://127.0.0.1:9/status/added?stats=1",
        "enabled": "on",
        "interval_seconds": 30,
        "timeout_seconds": 5,
        "tls_verify": "on",
    }
    data.update(overrides)
    return data


def test_it_adds_a_source_without_raw_json_or_empty_health_rows(admin_client: Client, allow_loopback: Any) -> None:
    page = admin_client.get("/admin/pollers/source/add/").content.decode()
    # Rows to fill and a tags box, not JSON text areas (no "null", no "{}" to edit by hand).
    assert 'name="headers_key"' in page
    assert 'name="metric_paths_key"' in page
    assert 'value="results.stats.server.cpu_load"' in page  # the default paths, as rows
    assert "data-chips" in page
    assert ">null<" not in page
    assert "last_error_message" not in page  # no health rows on a source not polled yet
    assert "js/forms.js" in page

    posted = add_form(
        tags="Prod, payments, prod",
        volatile_paths="results.stats.session\n\nresults.stats.session\nresults.stats.online",
        pinned_metrics="queue",
        **form_rows("headers", [("Accept-Language", "en"), ("", "")]),
        **form_rows("metric_paths", {"queue": "results.queue.depth", "cpu": "results.stats.server.cpu_load"}),
    )
    response = admin_client.post("/admin/pollers/source/add/", posted)
    assert response.status_code == 302, response.content.decode()[-3000:]
    source = Source.objects.get(slug="added")
    assert source.tags == ["prod", "payments"]
    assert source.headers == {"Accept-Language": "en"}
    assert source.metric_paths == {"queue": "results.queue.depth", "cpu": "results.stats.server.cpu_load"}
    assert source.volatile_paths == ["results.stats.session", "results.stats.online"]
    assert source.pinned_metrics == ["queue"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tags": "mine, not mine!"}, "Tag &#x27;not mine!&#x27;: letters, digits"),
        (form_rows("metric_paths", {"cpu": "results..cpu"}), "cpu: "),
        (form_rows("metric_paths", {"bad name!": "results.cpu"}), "bad name!: "),
        (form_rows("metric_paths", {"cpu": ""}), "&#x27;cpu&#x27; has no value."),
        (
            {"pinned_metrics": "nope", **form_rows("metric_paths", {"cpu": "results.cpu"})},
            "Not a metric of this source: nope",
        ),
    ],
)
def test_it_explains_what_is_wrong_in_the_add_form(
    admin_client: Client, allow_loopback: Any, overrides: dict[str, Any], message: str
) -> None:
    response = admin_client.post("/admin/pollers/source/add/", add_form(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Source.objects.filter(slug="added").exists()
