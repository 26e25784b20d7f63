"""The API token settings page: list own tokens, create one (shown once), revoke."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import ApiToken
from tests.factories import bearer, make_user

pytestmark = pytest.mark.django_db


def test_it_asks_for_a_login(client: Client) -> None:
    response = client.get("/accounts/tokens/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_it_creates_a_token_and_shows_it_once(client: Client) -> None:
    user = make_user()
    client.force_login(user)
    response = client.post("/accounts/tokens/", {"name": "ci", "scope": "read", "expires": "30"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = re.search(r"data-token>(dit_[^<]+)<", response.content.decode()).group(1)  # type: ignore[union-attr]
    token = ApiToken.objects.get(user=user)
    assert token.name == "ci"
    assert token.expires_at is not None
    assert raw not in token.token_hash
    assert Client().get("/api/v1/sources", **bearer(raw)).status_code == 200
    listing = client.get("/accounts/tokens/").content.decode()
    assert raw not in listing
    assert token.prefix in listing


def test_it_refuses_a_duplicate_name(client: Client) -> None:
    user = make_user()
    ApiToken.issue(user, "ci")
    client.force_login(user)
    response = client.post("/accounts/tokens/", {"name": "ci", "scope": "read", "expires": "never"})
    assert "already have a token" in response.content.decode()
    assert ApiToken.objects.filter(user=user).count() == 1


def test_it_revokes_only_the_users_own_tokens(client: Client) -> None:
    user, other = make_user(), make_user("other")
    mine, raw = ApiToken.issue(user, "mine")
    theirs, _ = ApiToken.issue(other, "theirs")
    client.force_login(user)
    listing = client.get("/accounts/tokens/").content.decode()
    assert "mine" in listing
    assert "theirs" not in listing
    assert client.post(f"/accounts/tokens/{theirs.pk}/revoke/").status_code == 404
    assert client.get(f"/accounts/tokens/{mine.pk}/revoke/").status_code == 405
    response = client.post(f"/accounts/tokens/{mine.pk}/revoke/")
    assert response.status_code == 302
    assert not ApiToken.objects.filter(pk=mine.pk).exists()
    assert ApiToken.objects.filter(pk=theirs.pk).exists()
    assert Client().get("/api/v1/sources", **bearer(raw)).status_code == 401


def test_it_shows_a_copy_button_and_a_curl_example_that_works(client: Client) -> None:
    import shlex

    client.force_login(make_user())
    page = client.post("/accounts/tokens/", {"name": "ci", "scope": "read", "expires": "30"}).content.decode()
    assert 'data-copy="new-token"' in page
    assert 'data-copy="curl-example"' in page
    assert "js/copy.js" in page
    command = re.search(r'<code id="curl-example">([^<]+)</code>', page).group(1)  # type: ignore[union-attr]
    words = shlex.split(command.replace("&quot;", '"'))
    assert words[:2] == ["curl", "-H"]
    name, _, value = words[2].partition(": ")
    url = words[3]
    assert url == "http://testserver/api/v1/metrics"
    response = Client().get(url.removeprefix("http://testserver"), HTTP_AUTHORIZATION=value)
    assert name == "Authorization"
    assert response.status_code == 200
    later = client.get("/accounts/tokens/").content.decode()
    assert "Bearer dit_...&quot;" in later or 'Bearer dit_..."' in later
