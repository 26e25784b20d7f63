"""Sources run from the dashboard: add with Test, edit, pause and resume, poll now, force a trial, delete."""

from __future__ import annotations

import re
import threading
import time
from html.parser import HTMLParser
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db import connections
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from alerts.models import AlertRule
from metrics.stores import get_store
from pollers.models import MASK, Source
from tests.factories import make_source, member, payload, record

pytestmark = pytest.mark.django_db


def form_data(url: str, /, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Payments",
        "slug": "payments",
        "url": url,
        "region": "eu-west",
        "tags": "prod, Payments, prod",
        "metric_paths_key": ["cpu_load", "nope", ""],
        "metric_paths_value": ["results.stats.server.cpu_load", "results.nope.x", ""],
        "headers_key": ["X-Api-Key", ""],
        "headers_value": ["k-123456", ""],
        "interval_seconds": "30",
        "timeout_seconds": "5",
        "enabled": "on",
        "action": "save",
    }
    data.update(overrides)
    return data


def test_it_adds_a_source_with_tags_headers_paths_and_the_unreachable_rule(
    staff_client: Client, allow_loopback: Any, simulator: Any
) -> None:
    response = staff_client.post("/sources/new/", form_data(simulator.url("eu-west")))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == "/sources/payments/"
    source = Source.objects.get(slug="payments")
    assert source.tags == ["prod", "payments"]
    assert source.headers == {"X-Api-Key": "k-123456"}
    assert source.metric_paths == {"cpu_load": "results.stats.server.cpu_load", "nope": "results.nope.x"}
    rule = AlertRule.objects.get(source=source)
    assert (rule.kind, rule.scope, rule.count, rule.severity) == ("poll_failures", "source", 3, "critical")
    # The message names the rule the source was added with (read back after the defaults were added).
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Added Payments with the rule “payments unreachable”."
    ]
    page = staff_client.get("/sources/payments/").content.decode()
    assert "waiting for first poll" in page
    assert "Waiting" in page


class _OutsideParts(HTMLParser):
    """Collects the text of a page outside its [data-part] elements: what a live update leaves as it was."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # open elements inside a part, 0 outside any
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        if self.depth or any(name == "data-part" for name, _ in attrs):
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag not in self.VOID:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.text.append(data)


def outside_live_parts(page: str) -> str:
    parser = _OutsideParts()
    parser.feed(page)
    return " ".join(parser.text)


def test_it_says_a_new_source_waits_for_its_first_poll_only_where_a_live_update_redraws_it(
    staff_client: Client, allow_loopback: Any, simulator: Any
) -> None:
    staff_client.post("/sources/new/", form_data(simulator.url("eu-west")))
    # The page the add lands on, its message included: "waiting" is said in the head part only.
    landing = staff_client.get("/sources/payments/").content.decode()
    assert "Added Payments" in outside_live_parts(landing)
    assert "first poll" not in outside_live_parts(landing)
    assert "waiting for first poll" in landing

    # The first poll: the live update's parts say what a reload says, and neither says "waiting" any more.
    source = Source.objects.get(slug="payments")
    now = timezone.now()
    record(source, payload(), now)
    Source.objects.filter(pk=source.pk).update(last_polled_at=now, last_success_at=now)
    parts = staff_client.get("/sources/payments/parts.json").json()["parts"]
    assert "first poll" not in "".join(parts.values())
    assert "first poll" not in staff_client.get("/sources/payments/").content.decode()


def test_it_adds_no_rule_when_the_default_rule_is_off(staff_client: Client, allow_loopback: Any, settings: Any) -> None:
    settings.ALERTS_DEFAULT_UNREACHABLE_RULE = False
    response = staff_client.post("/sources/new/", form_data("http://127.0.0.1:9/status"))
    assert response.status_code == 302
    assert not AlertRule.objects.exists()
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Added Payments."]


def test_it_tests_the_url_through_the_poller_and_flags_paths_matching_nothing(
    staff_client: Client, allow_loopback: Any, simulator: Any
) -> None:
    response = staff_client.post("/sources/new/", form_data(simulator.url("eu-west"), action="test"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "HTTP 200" in page
    assert 'class="probe-match" data-metric="cpu_load"' in page
    assert 'class="probe-miss" data-metric="nope"' in page
    assert "matches nothing: no &#x27;nope&#x27; under results" in page
    assert "1 path matches nothing" in page
    assert not Source.objects.exists(), "a test stores nothing"


def test_it_reports_a_failed_test_fetch(staff_client: Client, allow_loopback: Any, simulator: Any) -> None:
    url = simulator.url("eu-west", "fault=not_json")
    response = staff_client.post("/sources/new/", form_data(url, action="test", timeout_seconds="2"))
    page = response.content.decode()
    assert "The fetch failed" in page
    assert not Source.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"metric_paths_key": ["cpu"], "metric_paths_value": ["results..cpu"]}, "has an empty segment"),
        ({"metric_paths_key": ["cpu"], "metric_paths_value": ["results.$x"]}, "may hold only letters"),
        ({"metric_paths_key": ["9bad"], "metric_paths_value": ["results.x"]}, "must start with a letter"),
        ({"metric_paths_key": ["cpu"], "metric_paths_value": [""]}, "has no value"),
        ({"metric_paths_key": ["", "", ""], "metric_paths_value": ["results.a", "", ""]}, "has no name"),
        ({"metric_paths_key": ["a", "a", ""], "metric_paths_value": ["x", "y", ""]}, "Each name once"),
        ({"tags": "ok, not a tag!"}, "letters, digits"),
        ({"headers_key": ["Bad Name", ""], "headers_value": ["v", ""]}, "invalid name or value"),
        # Not an HTTP token: the poller could never send it (the admin's rule, one home in pollers.forms).
        ({"headers_key": ["X-(Bad)", ""], "headers_value": ["v", ""]}, "not a valid HTTP header name"),
        ({"headers_key": ["X-Tab", ""], "headers_value": ["a\tb\x01", ""]}, "invalid name or value"),
        ({"url": "http://exa mple"}, "Enter a valid URL"),
        # A control character: polled percent-encoded, so another URL than the one stored (pollers.validation).
        ({"url": "http://127.0.0.1:9/s\x7f"}, "the control character U+007F"),
        ({"url": "http://127.0.0.1:9/s?q=\x1b"}, "the control character U+001B"),
        ({"url": "http://169.254.169.254/latest"}, "169.254.169.254"),
        ({"interval_seconds": "2"}, "greater than or equal to 5"),
    ],
)
def test_it_refuses_bad_input_with_a_clear_error_and_stores_nothing(
    staff_client: Client, allow_loopback: Any, overrides: dict[str, Any], message: str
) -> None:
    response = staff_client.post("/sources/new/", form_data("http://127.0.0.1:9/s", **overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Source.objects.exists()


def test_it_bounds_the_number_inputs_as_the_model_does(staff_client: Client) -> None:
    # The poll interval's input said min 0, so the browser sent "0" and the form came back refused (at least 5).
    inputs = re.findall(r"<input[^>]*>", staff_client.get("/sources/new/").content.decode())
    interval = next(tag for tag in inputs if 'name="interval_seconds"' in tag)
    timeout = next(tag for tag in inputs if 'name="timeout_seconds"' in tag)
    assert 'min="5"' in interval
    assert 'max="86400"' in interval
    assert 'min="0.5"' in timeout
    assert 'max="120"' in timeout
    admin_inputs = staff_client.get("/admin/pollers/source/add/").content.decode()  # the admin form shares it
    assert re.search(r'<input type="number" name="interval_seconds"[^>]*min="5"[^>]*max="86400"', admin_inputs)


def test_it_refuses_the_slug_new(staff_client: Client, allow_loopback: Any) -> None:
    response = staff_client.post("/sources/new/", form_data("http://127.0.0.1:9/s", slug="new"))
    assert response.status_code == 400
    assert "reserved" in response.content.decode()


def test_it_edits_keeping_masked_secret_headers_and_health(staff_client: Client, allow_loopback: Any) -> None:
    source = make_source("eu-west", headers={"Authorization": "Bearer s3cret-value"}, consecutive_failures=2)
    page = staff_client.get("/sources/eu-west/edit/").content.decode()
    assert "s3cret-value" not in page
    assert MASK in page
    data = form_data(
        source.url,
        slug="ignored",
        name="EU West 2",
        headers_key=["Authorization", "X-Extra"],
        headers_value=[MASK, "yes"],
    )
    response = staff_client.post("/sources/eu-west/edit/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    source.refresh_from_db()
    assert source.name == "EU West 2"
    assert source.slug == "eu-west"
    assert source.headers == {"Authorization": "Bearer s3cret-value", "X-Extra": "yes"}
    assert source.consecutive_failures == 2, "the poller's fields are not the form's"


@pytest.mark.parametrize("action", ["save", "test"])
def test_it_never_sends_a_stored_secret_header_to_another_origin(
    staff_client: Client, allow_loopback: Any, simulator: Any, other_simulator: Any, action: str
) -> None:
    source = make_source("eu-west", url=simulator.url("eu-west"), headers={"Authorization": "Bearer s3cret-value"})
    elsewhere = f"{other_simulator.base_url}/echo/headers"
    data = form_data(elsewhere, action=action, headers_key=["Authorization", ""], headers_value=[MASK, ""])
    response = staff_client.post("/sources/eu-west/edit/", data)
    page = response.content.decode()
    assert response.status_code == 400, page[:2000]
    assert "Send again or remove the header Authorization" in page
    assert elsewhere in page, "the typed input is kept"
    assert "s3cret-value" not in page
    assert "HTTP 200" not in page, "Test fetched nothing"
    source.refresh_from_db()
    assert source.url == simulator.url("eu-west")

    # Typed again, the value is the user's to send: Test reaches the other server with it, Save stores it.
    data.update(headers_value=["Bearer typed-again", ""])
    if action == "test":
        tested = staff_client.post("/sources/eu-west/edit/", data).content.decode()
        assert "HTTP 200" in tested
        assert "Authorization" in tested  # a top-level key of what /echo/headers received
    else:
        assert staff_client.post("/sources/eu-west/edit/", data).status_code == 302
        source.refresh_from_db()
        assert (source.url, source.headers["Authorization"]) == (elsewhere, "Bearer typed-again")


def test_it_refuses_a_new_origin_while_a_password_is_stored(
    staff_client: Client, allow_loopback: Any, settings: Any
) -> None:
    from cryptography.fernet import Fernet

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    source = make_source("eu-west", auth_scheme=Source.AuthScheme.BEARER)
    source.set_auth_secret("tok-stored")
    source.save()
    response = staff_client.post("/sources/eu-west/edit/", form_data("http://127.0.0.1:10/status", action="test"))
    assert response.status_code == 400
    assert "Type the password or token again, or remove it (the admin" in response.content.decode()
    # The same server at another path: as before.
    same = form_data("http://127.0.0.1:9/status/eu-west/v2")
    assert staff_client.post("/sources/eu-west/edit/", same).status_code == 302


def test_it_pauses_resumes_and_polls_now(staff_client: Client, allow_loopback: Any, simulator: Any) -> None:
    source = make_source("eu-west", url=simulator.url("eu-west"))
    assert staff_client.post("/sources/eu-west/pause/").status_code == 302
    source.refresh_from_db()
    assert not source.enabled
    staff_client.post("/sources/eu-west/resume/")
    source.refresh_from_db()
    assert source.enabled
    response = staff_client.post("/sources/eu-west/poll/", follow=True)
    assert "Polled Eu West: HTTP 200, stored." in response.content.decode()
    source.refresh_from_db()
    assert source.last_success_at is not None


@pytest.mark.django_db(transaction=True)  # the held request runs in a thread, on a connection of its own
def test_it_answers_busy_at_once_while_a_quarter_of_the_slots_wait_on_upstreams(
    staff_client: Client, allow_loopback: Any, simulator: Any, settings: Any
) -> None:
    """Poll now and Test fetch inside the request: against a hanging upstream each would hold a request slot for
    the source's whole timeout, and a few at once every slot of the process. A quarter of the slots may
    (here 1 of 4); past that the request is answered at once, fetching nothing."""
    settings.WEB_MAX_CONCURRENT_REQUESTS = 4
    make_source("stuck", url=simulator.url("stuck", "fault=hang"), timeout_seconds=3.0)
    calm = make_source("eu-west", url=simulator.url("eu-west"))
    other = Client()
    other.force_login(get_user_model().objects.get(username="ops"))

    def poll_the_stuck_one() -> None:
        try:
            other.post("/sources/stuck/poll/")
        finally:
            connections.close_all()

    held = threading.Thread(target=poll_the_stuck_one, daemon=True)
    held.start()

    deadline = time.monotonic() + 10
    while not simulator.requests_for("stuck"):  # the hanging poll is in flight
        assert time.monotonic() < deadline, "the first poll never reached the upstream"
        time.sleep(0.01)
    answer = staff_client.post("/sources/eu-west/poll/", follow=True).content.decode()
    assert "Not polled: Other fetches from pages are running in this web process" in answer
    calm.refresh_from_db()
    assert calm.last_polled_at is None
    tested = staff_client.post("/sources/new/", form_data(simulator.url("eu-west"), action="test")).content.decode()
    assert "Other fetches from pages are running" in tested
    assert not simulator.requests_for("eu-west"), "nothing was fetched past the limit"

    held.join(timeout=30)
    answer = staff_client.post("/sources/eu-west/poll/", follow=True).content.decode()
    assert "Polled Eu West: HTTP 200, stored." in answer


def test_it_forces_a_trial_of_an_open_circuit_only(staff_client: Client, allow_loopback: Any, simulator: Any) -> None:
    source = make_source("eu-west", url=simulator.url("eu-west"))
    response = staff_client.post("/sources/eu-west/trial/", follow=True)
    assert "is not open" in response.content.decode()
    Source.objects.filter(pk=source.pk).update(
        circuit_state="open", circuit_opened_at=timezone.now(), consecutive_failures=5
    )
    page = staff_client.get("/sources/eu-west/").content.decode()
    assert "Try now (circuit open)" in page
    staff_client.post("/sources/eu-west/trial/")
    source.refresh_from_db()
    assert source.circuit_state == "closed"
    assert source.consecutive_failures == 0


def test_it_deletes_only_after_the_slug_is_typed(staff_client: Client) -> None:
    make_source("eu-west")
    response = staff_client.post("/sources/eu-west/delete/", {"confirm_slug": "eu"})
    assert response.status_code == 400
    assert Source.objects.filter(slug="eu-west").exists()
    assert staff_client.post("/sources/eu-west/delete/", {"confirm_slug": "eu-west"}).status_code == 302
    assert not Source.objects.filter(slug="eu-west").exists()


def test_it_says_a_deleted_source_takes_its_stored_data_with_it(
    staff_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    source = make_source("eu-west")
    record(source, payload(), timezone.now())
    page = staff_client.get("/sources/eu-west/delete/").content.decode()
    assert "stay in the metric store" not in page
    assert "stored snapshots, history and metrics" in page

    with django_capture_on_commit_callbacks(execute=True):
        answer = staff_client.post("/sources/eu-west/delete/", {"confirm_slug": "eu-west"}, follow=True)
    assert f"Deleted {source.name} and its stored snapshots, history and metrics." in answer.content.decode()
    assert get_store().latest("eu-west") is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/sources/new/"),
        ("post", "/sources/new/"),
        ("get", "/sources/eu-west/edit/"),
        ("post", "/sources/eu-west/edit/"),
        ("post", "/sources/eu-west/pause/"),
        ("post", "/sources/eu-west/resume/"),
        ("post", "/sources/eu-west/poll/"),
        ("post", "/sources/eu-west/trial/"),
        ("post", "/sources/eu-west/delete/"),
    ],
)
def test_it_refuses_writes_to_viewers_and_sends_strangers_to_login(client: Client, method: str, path: str) -> None:
    make_source("eu-west")
    assert getattr(client, method)(path).status_code == 302  # to the login page
    member(client, role=Role.VIEWER, username="reader")
    assert getattr(client, method)(path).status_code == 403
    assert Source.objects.get(slug="eu-west").enabled


def test_it_refuses_get_on_actions(staff_client: Client) -> None:
    make_source("eu-west")
    assert staff_client.get("/sources/eu-west/pause/").status_code == 405


def test_it_shows_the_add_button_to_staff(staff_client: Client) -> None:
    assert 'href="/sources/new/"' in staff_client.get("/").content.decode()


def test_it_hides_the_add_button_from_readers(user_client: Client) -> None:
    assert 'href="/sources/new/"' not in user_client.get("/").content.decode()


def test_it_tests_an_edited_source_with_its_stored_credentials(
    staff_client: Client, allow_loopback: Any, simulator: Any, settings: Any
) -> None:
    # Set in the admin, not on this form: a Test without them answered 401 where every poll succeeds.
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    source = make_source("eu-west", url=simulator.url("eu-west", "stats=1&fault=auth&token=t0ken-42"))
    source.auth_scheme = Source.AuthScheme.BEARER
    source.set_auth_secret("t0ken-42")
    source.save()
    response = staff_client.post("/sources/eu-west/edit/", form_data(source.url, action="test"))
    page = response.content.decode()
    assert "HTTP 200" in page, page[page.find('id="probe"') :][:600]
    assert 'class="probe-match" data-metric="cpu_load"' in page


def test_it_says_why_a_test_cannot_send_the_stored_credentials(
    staff_client: Client, allow_loopback: Any, simulator: Any, settings: Any
) -> None:
    make_source("eu-west", url=simulator.url("eu-west"), auth_scheme=Source.AuthScheme.BEARER)  # no secret stored
    response = staff_client.post("/sources/eu-west/edit/", form_data(simulator.url("eu-west"), action="test"))
    page = response.content.decode()
    assert "The fetch failed" in page
    assert "no secret is stored" in page
    assert simulator.requests_for("eu-west") == [], "nothing is sent without the credential"


def test_it_refuses_to_send_credentials_without_tls_verification_unless_acknowledged(
    staff_client: Client, allow_loopback: Any
) -> None:
    # Verification off, set in the admin, the API or a file: a credential header typed here would go out unverified.
    source = make_source("eu-west", tls_verify=False)
    data = form_data(source.url, name="EU West 2")  # with an X-Api-Key header
    response = staff_client.post("/sources/eu-west/edit/", data)
    assert response.status_code == 400
    assert (
        "Verify TLS certificates (not on this form): Verification is off while the source sends the header X-Api-Key"
        in response.content.decode()
    )
    source.refresh_from_db()
    assert (source.name, source.headers) == ("Eu West", {})

    # As the admin or the API acknowledge.
    Source.objects.filter(pk=source.pk).update(insecure_credentials_acknowledged=True)
    assert staff_client.post("/sources/eu-west/edit/", data).status_code == 302
    source.refresh_from_db()
    assert (source.name, source.headers) == ("EU West 2", {"X-Api-Key": "k-123456"})


def test_it_refuses_to_test_a_source_that_would_send_credentials_over_plain_http_unless_acknowledged(
    staff_client: Client, lan_host: str
) -> None:
    # Test fetches before anything is saved: the typed X-Api-Key would go over plain http to the network.
    data = form_data(f"http://{lan_host}:9/status", action="test", timeout_seconds="1")
    response = staff_client.post("/sources/new/", data)
    page = response.content.decode()
    assert response.status_code == 400
    message = "The URL is plain http while the source sends the header X-Api-Key: anyone on the network path can read"
    assert message in page
    error = page[page.index("The URL is plain http") :]
    assert "k-123456" not in error[: error.index("</li>")]
    assert 'id="probe"' not in page, "no test fetch was made"
    assert not Source.objects.exists()


def test_it_tests_with_credentials_unverified_only_once_acknowledged(
    staff_client: Client, allow_loopback: Any, simulator: Any
) -> None:
    # Verification off, set in the admin, the API or a file: the Test sends what a poll would, so the rule applies.
    source = make_source("eu-west", url=simulator.url("eu-west"), tls_verify=False)
    data = form_data(simulator.url("eu-west"), action="test")  # with an X-Api-Key header
    response = staff_client.post("/sources/eu-west/edit/", data)
    page = response.content.decode()
    assert response.status_code == 400
    assert "Verify TLS certificates (not on this form): Verification is off while the source sends the header" in page
    assert 'id="probe"' not in page
    assert simulator.requests_for("eu-west") == [], "nothing is sent unverified"

    Source.objects.filter(pk=source.pk).update(insecure_credentials_acknowledged=True)
    tested = staff_client.post("/sources/eu-west/edit/", data).content.decode()
    assert 'id="probe"' in tested
    assert len(simulator.requests_for("eu-west")) == 1


@pytest.mark.parametrize(
    ("stored", "posted", "message"),
    [
        # Removing the path of a pinned metric: the pin is set in the admin or as code, not on this form.
        (
            {"pinned_metrics": ["timers"]},
            {},
            "Pinned metrics (not on this form): Not a metric of this source: timers.",
        ),
        (
            {"auth_scheme": Source.AuthScheme.BASIC, "auth_username": "ops"},
            {"headers_key": ["Authorization", ""], "headers_value": ["Basic b3BzOng=", ""]},
            "Remove the Authorization header, or leave the authentication scheme empty.",
        ),
    ],
)
def test_it_explains_an_edit_refused_for_a_field_the_form_does_not_show(
    staff_client: Client, allow_loopback: Any, stored: dict[str, Any], posted: dict[str, Any], message: str
) -> None:
    paths = {"cpu_load": "results.stats.server.cpu_load", "timers": "results.stats.server.timers"}
    source = make_source("eu-west", metric_paths=paths, **stored)
    data = form_data(source.url, name="EU West 2", **posted)  # its metric paths: cpu_load and nope, no timers
    response = staff_client.post("/sources/eu-west/edit/", data)
    assert response.status_code == 400
    page = response.content.decode().replace("&#x27;", "'")
    assert message in page
    source.refresh_from_db()
    assert (source.name, source.metric_paths) == ("Eu West", paths), "nothing is saved"


def test_it_names_the_source_as_stored_around_an_edit_it_refuses(staff_client: Client, allow_loopback: Any) -> None:
    make_source("eu-west")
    data = form_data("http://127.0.0.1:9/s", name="Renamed", interval_seconds="2")
    response = staff_client.post("/sources/eu-west/edit/", data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "<h1>Edit Eu West</h1>" in page, "the heading said the name typed, which was not saved"
    assert 'value="Renamed"' in page, "what was typed stays in the form"
