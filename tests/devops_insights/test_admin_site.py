"""The admin: branded, 24-hour UTC times in ISO order, its names spelt right, for staff only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from pollers.models import PollFailure
from tests.factories import make_source, make_user

pytestmark = pytest.mark.django_db


def test_it_is_branded_and_spells_poller_processes(client: Client) -> None:
    client.force_login(make_user("root", superuser=True))
    page = client.get("/admin/").content.decode()
    assert "DevOps Insights administration" in page
    assert "Django administration" not in page
    assert "Poller processes" in page
    assert "processs" not in page


def test_it_shows_times_on_a_24_hour_utc_clock(client: Client) -> None:
    client.force_login(make_user("root", superuser=True))
    source = make_source()
    PollFailure.record(source, occurred_at=datetime(2026, 3, 4, 15, 7, 9, tzinfo=UTC), kind="timeout", message="slow")
    page = client.get("/admin/pollers/pollfailure/").content.decode()
    assert "2026-03-04 15:07:09 UTC" in page
    assert "p.m." not in page


def test_it_refuses_people_who_are_not_staff(client: Client) -> None:
    client.force_login(make_user("reader"))
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_it_names_api_tokens_and_shows_the_products_icon(client: Client) -> None:
    client.force_login(make_user("root", superuser=True))
    page = client.get("/admin/").content.decode()
    assert "API tokens" in page
    assert "Api tokens" not in page
    # Without an icon of its own the browser asked for /favicon.ico on every admin page: a 404 in the console.
    assert '<link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">' in page
    assert "DevOps Insights administration" in page  # the branding it extends is kept


def test_it_offers_no_social_applications_the_product_would_ignore(client: Client) -> None:
    # SSO comes from the environment only; a "Social application" added in the admin changed nothing.
    client.force_login(make_user("root", superuser=True))
    page = client.get("/admin/").content.decode()
    assert "Social applications" not in page
    assert "Social application tokens" not in page
    assert "Social accounts" in page  # who signed in with which provider stays
    assert client.get("/admin/socialaccount/socialapp/").status_code == 404
