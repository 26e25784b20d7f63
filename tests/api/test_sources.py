"""/api/v1/sources: definitions with poll health and masked secrets; staff writes validated like the admin."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from pollers.models import MASK, Source
from tests.api.support import assert_error, assert_matches_schema, headers_received
from tests.factories import bearer, make_source, make_token

# Test sources point at loopback, which the SSRF guard refuses unless allowed, as `make run` does.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

SECRET_HEADER_VALUE = "s3cr3t-upstream-credential-value"
SECRET_HEADERS = {"Authorization": f"Bearer {SECRET_HEADER_VALUE}", "Accept": "application/json"}


@pytest.fixture
def admin_token() -> str:
    return make_token("admin", role="admin")


def post(client: Client, token: str, data: Any) -> Any:
    return client.post("/api/v1/sources", data=data, content_type="application/json", **bearer(token))


def patch(client: Client, token: str, slug: str, data: Any) -> Any:
    return client.patch(f"/api/v1/sources/{slug}", data=data, content_type="application/json", **bearer(token))


def test_it_lists_sources_with_health_and_alert_state(client: Client) -> None:
    now = timezone.now()
    make_source("eu-west", last_polled_at=now, last_success_at=now, alert_state="critical")
    make_source("us-east", last_polled_at=now, consecutive_failures=3, last_error_kind="timeout")
    make_source("sa-east", enabled=False)
    response = client.get("/api/v1/sources", **bearer(make_token()))
    assert response.status_code == 200
    rows = {row["slug"]: row for row in response.json()["sources"]}
    assert list(rows) == ["eu-west", "sa-east", "us-east"]
    assert rows["eu-west"]["alert_state"] == "critical"
    assert rows["eu-west"]["health"]["status"] == "ok"
    assert rows["us-east"]["health"]["status"] == "failing"
    assert rows["us-east"]["health"]["last_error_kind"] == "timeout"
    assert rows["sa-east"]["health"]["status"] == "disabled"


def test_it_calls_a_source_stale_when_polls_stopped_succeeding(client: Client) -> None:
    old = timezone.now() - timedelta(hours=1)
    make_source("us-east", interval_seconds=30, last_polled_at=old, last_success_at=old)
    row = client.get("/api/v1/sources/us-east", **bearer(make_token())).json()
    assert row["health"]["status"] == "stale"


def test_it_masks_header_secrets_and_url_passwords(client: Client) -> None:
    make_source(
        "us-east", url="https://bot:hunter2pass@status.example.com/s?api_key=k3y&region=us", headers=SECRET_HEADERS
    )
    response = client.get("/api/v1/sources/us-east", **bearer(make_token()))
    text = response.content.decode()
    assert SECRET_HEADER_VALUE not in text
    assert "hunter2pass" not in text
    assert "k3y" not in text
    row = response.json()
    assert row["headers"] == {"Authorization": MASK, "Accept": "application/json"}
    assert row["url"].startswith("https://bot:")
    assert "region=us" in row["url"]


def test_it_filters_sources(client: Client) -> None:
    make_source("us-east", tags=["prod"])
    make_source("eu-west", enabled=False)
    token = make_token()
    slugs = lambda q: [s["slug"] for s in client.get(f"/api/v1/sources?{q}", **bearer(token)).json()["sources"]]  # noqa: E731
    assert slugs("region=eu-west") == ["eu-west"]
    assert slugs("enabled=true") == ["us-east"]
    assert slugs("tag=prod") == ["us-east"]
    assert_error(client.get("/api/v1/sources?enabled=maybe", **bearer(token)), 400, "invalid_parameters")
    error = assert_error(client.get("/api/v1/sources?region=%00eu", **bearer(token)), 400, "invalid_parameters")
    assert "NUL" in error["details"]["fields"]["region"][0]


def test_it_creates_a_source(client: Client, admin_token: str) -> None:
    response = post(
        client,
        admin_token,
        {
            "slug": "payments",
            "name": "Payments",
            "url": "http://127.0.0.1:9/status",
            "interval_seconds": 60,
            "headers": {"X-Api-Key": "abc123secret"},
            "tags": ["team-a"],
        },
    )
    assert response.status_code == 201, response.content
    assert response["Location"] == "/api/v1/sources/payments"
    body = response.json()
    assert_matches_schema(body, "Source")
    assert body["interval_seconds"] == 60
    assert body["headers"] == {"X-Api-Key": MASK}
    source = Source.objects.get(slug="payments")
    assert source.headers == {"X-Api-Key": "abc123secret"}
    assert source.metric_paths  # the defaults apply when none are given
    from alerts.models import AlertRule

    assert AlertRule.objects.get(source=source).name == "payments unreachable"  # ALERTS_DEFAULT_UNREACHABLE_RULE


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"slug": "x", "name": "X", "url": "ftp://127.0.0.1/status"}, "url", "valid URL"),
        ({"slug": "x", "name": "X", "url": "not a url"}, "url", "valid URL"),
        ({"slug": "x", "name": "X", "url": "http://127.0.0.1/", "interval_seconds": 1}, "interval_seconds", "5"),
        ({"slug": "x", "name": "X", "url": "http://127.0.0.1/", "interval_seconds": 10**6}, "interval_seconds", ""),
        ({"slug": "x", "name": "X", "url": "http://127.0.0.1/", "interval_seconds": "60"}, "interval_seconds", "whole"),
        ({"slug": "x", "name": "X", "url": "http://127.0.0.1/", "timeout_seconds": 0.1}, "timeout_seconds", ""),
        ({"slug": "x", "name": "X", "url": "http://127.0.0.1/", "headers": {"A": 1}}, "headers", "string"),
        ({"slug": "x", "name": "X", "url": "http://127.0.0.1/", "tags": "prod"}, "tags", "list"),
        ({"slug": "x", "name": "X", "url": "http://127.0.0.1/", "enabled": "yes"}, "enabled", "true or false"),
        ({"slug": "not a slug!", "name": "X", "url": "http://127.0.0.1/"}, "slug", ""),
        ({"name": "X", "url": "http://127.0.0.1/"}, "slug", "required"),
        ({"slug": "x", "name": "X", "url": "http://127.0.0.1/", "colour": "red"}, "colour", "unknown"),
        ({"slug": "x", "name": "X", "url": "http://127.0.0.1/", "health": {}}, "health", "read-only"),
        ({"slug": "x", "name": "X", "url": "http://127.0.0.1/", "region": "\x00eu"}, "region", "NUL"),
        ({"slug": "x", "name": "X", "url": "http://127.0.0.1/", "metric_paths": {"a\x00": "b"}}, "metric_paths", "NUL"),
        ({"slug": "x", "name": "X", "url": "http://127.0.0.1/", "tags": ["ok", "\x00"]}, "tags", "NUL"),
    ],
)
def test_it_validates_a_new_source(
    client: Client, admin_token: str, data: dict[str, Any], field: str, words: str
) -> None:
    response = post(client, admin_token, data)
    error = assert_error(response, 400, "invalid_parameters")
    assert_matches_schema(response.json(), "Error")
    assert field in error["details"]["fields"], error
    assert words in " ".join(error["details"]["fields"][field])
    assert not Source.objects.filter(slug="x").exists()


@pytest.mark.parametrize("url", ["http://[::1/status", "http://status.example.com]/", "https://[fe80::1/"])
def test_it_answers_400_for_a_url_whose_brackets_do_not_match(client: Client, admin_token: str, url: str) -> None:
    # urlsplit raises ValueError on them: a 500 internal_error on create and on change before.
    make_source("us-east")
    error = assert_error(post(client, admin_token, {"slug": "x", "name": "X", "url": url}), 400, "invalid_parameters")
    assert "url" in error["details"]["fields"], error
    error = assert_error(patch(client, admin_token, "us-east", {"url": url}), 400, "invalid_parameters")
    assert "url" in error["details"]["fields"], error
    assert not Source.objects.filter(slug="x").exists()
    assert Source.objects.get(slug="us-east").url.startswith("http://127.0.0.1:9/")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:9/status\x7f", "U+007F"),
        ("http://127.0.0.1:9/status?q=\x01", "U+0001"),
        ("http://127.0.0.1:9/sta\ttus", "a tab"),
        ("http://127.0.0.1:9/status\n", "a line feed (LF)"),
    ],
)
def test_it_answers_400_naming_url_for_a_control_character_in_it(
    client: Client, admin_token: str, url: str, words: str
) -> None:
    # Accepted before (all but tab and LF), and polled percent-encoded: another URL than the one stored.
    make_source("us-east")
    for response in (
        post(client, admin_token, {"slug": "x", "name": "X", "url": url}),
        patch(client, admin_token, "us-east", {"url": url}),
    ):
        error = assert_error(response, 400, "invalid_parameters")
        assert words in " ".join(error["details"]["fields"]["url"]), error
    assert not Source.objects.filter(slug="x").exists()
    assert Source.objects.get(slug="us-east").url.startswith("http://127.0.0.1:9/")


def test_it_refuses_a_duplicate_slug(client: Client, admin_token: str) -> None:
    make_source("us-east")
    error = assert_error(post(client, admin_token, {"slug": "us-east", "name": "X", "url": "http://127.0.0.1/"}), 400)
    assert "slug" in error["details"]["fields"]


def test_it_changes_some_fields_and_keeps_masked_secrets(client: Client, admin_token: str) -> None:
    make_source("us-east", headers=SECRET_HEADERS)
    shown = client.get("/api/v1/sources/us-east", **bearer(admin_token)).json()
    headers = dict(shown["headers"], **{"X-Extra": "1"})  # sent back as read: the secret is masked
    response = patch(client, admin_token, "us-east", {"name": "US East 1", "interval_seconds": 120, "headers": headers})
    assert response.status_code == 200, response.content
    assert_matches_schema(response.json(), "Source")
    source = Source.objects.get(slug="us-east")
    assert source.name == "US East 1"
    assert source.interval_seconds == 120
    assert source.headers["Authorization"] == f"Bearer {SECRET_HEADER_VALUE}"
    assert source.headers["X-Extra"] == "1"


def test_it_keeps_a_url_secret_when_the_url_is_written_back_as_read(client: Client, admin_token: str) -> None:
    # A read-modify-write client sends back the URL it read, its credential query value masked: that stored
    # the mask itself in place of the secret, and every poll after it failed.
    make_source("us-east", url="http://127.0.0.1:9/status?api_key=s3cr3t-value&region=a%20b")
    shown = client.get("/api/v1/sources/us-east", **bearer(admin_token)).json()
    assert "s3cr3t-value" not in shown["url"]

    response = patch(client, admin_token, "us-east", {"url": shown["url"], "name": "Renamed"})
    assert response.status_code == 200, response.content
    assert Source.objects.get(slug="us-east").url == "http://127.0.0.1:9/status?api_key=s3cr3t-value&region=a%20b"

    # Another query value changed beside the masked one: the secret stays too.
    response = patch(client, admin_token, "us-east", {"url": shown["url"].partition("&region=")[0] + "&region=c"})
    assert response.status_code == 200, response.content
    assert Source.objects.get(slug="us-east").url == "http://127.0.0.1:9/status?api_key=s3cr3t-value&region=c"

    # A new host never receives the stored secret: the mask is taken as sent.
    other = shown["url"].replace("127.0.0.1:9", "127.0.0.1:10")
    response = patch(client, admin_token, "us-east", {"url": other})
    assert response.status_code == 200, response.content
    assert "s3cr3t-value" not in Source.objects.get(slug="us-east").url


def test_it_refuses_a_new_origin_keeping_a_stored_secret_header(
    client: Client, admin_token: str, simulator: Any, other_simulator: Any
) -> None:
    here, elsewhere = f"{simulator.base_url}/echo/headers", f"{other_simulator.base_url}/echo/headers"
    make_source("us-east", url=here, headers=SECRET_HEADERS)
    shown = client.get("/api/v1/sources/us-east", **bearer(admin_token)).json()

    # The URL alone, or with the headers sent back masked as read: the stored secret would follow.
    for body in ({"url": elsewhere}, {"url": elsewhere, "headers": shown["headers"]}):
        error = assert_error(patch(client, admin_token, "us-east", body), 400)
        assert list(error["details"]["fields"]) == ["headers"]
        assert "Send again or remove the header Authorization" in error["details"]["fields"]["headers"][0]
        assert SECRET_HEADER_VALUE not in str(error)
    source = Source.objects.get(slug="us-east")
    assert source.url == here, "nothing saved"
    assert headers_received(source.url, source.headers)["Authorization"] == SECRET_HEADERS["Authorization"]

    # Sent again in the same request: the caller's own choice, accepted.
    again = {"Authorization": "Bearer for-the-other-server", "Accept": "application/json"}
    assert patch(client, admin_token, "us-east", {"url": elsewhere, "headers": again}).status_code == 200
    source = Source.objects.get(slug="us-east")
    assert headers_received(source.url, source.headers)["Authorization"] == "Bearer for-the-other-server"

    # Removed: accepted, and the other server gets no secret at all.
    back = {"url": here, "headers": {"Accept": "application/json"}}
    assert patch(client, admin_token, "us-east", back).status_code == 200
    assert "Authorization" not in headers_received(here, Source.objects.get(slug="us-east").headers)


def test_it_keeps_stored_secrets_on_a_same_origin_change(client: Client, admin_token: str) -> None:
    make_source("us-east", url="http://127.0.0.1:80/status/us-east", headers=SECRET_HEADERS)
    # Another path, the scheme's default port written out or not, the host's case: the same server.
    response = patch(client, admin_token, "us-east", {"url": "HTTP://127.0.0.1/status/other?x=1"})
    assert response.status_code == 200, response.content
    assert Source.objects.get(slug="us-east").headers == SECRET_HEADERS

    # Another port is another server.
    error = assert_error(patch(client, admin_token, "us-east", {"url": "http://127.0.0.1:8080/status/x"}), 400)
    assert "headers" in error["details"]["fields"]


def test_it_checks_if_match_before_changing_or_deleting_a_source(client: Client, admin_token: str) -> None:
    # If-Match used to be compared after the change, with the ETag of the changed source: a stale ETag got a
    # 412 with the change made all the same (a lost update the client was told had not happened), a current
    # one a 412 too, and a DELETE ignored it.
    make_source("us-east", name="US East")
    etag = client.get("/api/v1/sources/us-east", **bearer(admin_token))["ETag"]

    stale = patch_if(client, admin_token, '"0123456789abcdef0123456789abcdef"', {"name": "Stale"})
    assert_error(stale, 412, "precondition_failed")
    assert Source.objects.get(slug="us-east").name == "US East"

    fresh = patch_if(client, admin_token, etag, {"name": "Fresh"})
    assert fresh.status_code == 200, fresh.content
    assert Source.objects.get(slug="us-east").name == "Fresh"
    assert fresh["ETag"] == client.get("/api/v1/sources/us-east", **bearer(admin_token))["ETag"] != etag

    assert_error(patch_if(client, admin_token, etag, {"name": "Lost update"}), 412, "precondition_failed")
    assert Source.objects.get(slug="us-east").name == "Fresh"

    deleted = client.delete("/api/v1/sources/us-east", HTTP_IF_MATCH=etag, **bearer(admin_token))
    assert_error(deleted, 412, "precondition_failed")
    assert Source.objects.filter(slug="us-east").exists()
    deleted = client.delete("/api/v1/sources/us-east", HTTP_IF_MATCH=fresh["ETag"], **bearer(admin_token))
    assert deleted.status_code == 204, deleted.content
    assert not Source.objects.filter(slug="us-east").exists()


def patch_if(client: Client, token: str, etag: str, data: Any) -> Any:
    return client.patch(
        "/api/v1/sources/us-east", data=data, content_type="application/json", HTTP_IF_MATCH=etag, **bearer(token)
    )


def test_it_refuses_a_bad_change_and_keeps_the_source(client: Client, admin_token: str) -> None:
    make_source("us-east", interval_seconds=30)
    error = assert_error(patch(client, admin_token, "us-east", {"interval_seconds": 2, "slug": "other"}), 400)
    assert set(error["details"]["fields"]) == {"slug", "interval_seconds"}
    assert Source.objects.get(slug="us-east").interval_seconds == 30


def test_it_answers_404_for_changes_to_a_missing_source(client: Client, admin_token: str) -> None:
    assert_error(patch(client, admin_token, "nope", {"name": "x"}), 404, "source_not_found")
    assert_error(client.delete("/api/v1/sources/nope", **bearer(admin_token)), 404)


def test_it_never_logs_header_secrets_or_tokens(
    client: Client, admin_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    make_source("us-east", headers=SECRET_HEADERS)
    client.get("/api/v1/sources", **bearer(admin_token))
    client.get("/api/v1/sources", **bearer(admin_token + "wrong"))
    post(
        client,
        admin_token,
        {"slug": "b", "name": "B", "url": "http://127.0.0.1:9/", "headers": {"Authorization": "Bearer upstream-xyz"}},
    )
    patch(client, admin_token, "b", {"headers": {"Authorization": "Bearer upstream-new"}, "interval_seconds": 1})
    patch(client, admin_token, "b", {"headers": {"Authorization": "Bearer upstream-new"}})
    assert caplog.records, "the requests above log something; the test must see it"
    text = caplog.text
    for secret in (admin_token, admin_token[10:], SECRET_HEADER_VALUE, "upstream-xyz", "upstream-new"):
        assert secret not in text


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/status", "http://[::1]:8080/status"]
)
def test_it_applies_the_ssrf_guard_like_the_admin(client: Client, admin_token: str, url: str) -> None:
    response = post(client, admin_token, {"slug": "inside", "name": "Inside", "url": url})
    error = assert_error(response, 400, "invalid_parameters")
    assert "url" in error["details"]["fields"]
    assert not Source.objects.filter(slug="inside").exists()
