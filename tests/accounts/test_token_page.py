"""The API token settings page: list own tokens, create one in one of the user's teams with a role no higher
than the user's there (shown once), revoke."""

from __future__ import annotations

import re
import threading

import pytest
from django.db import close_old_connections, connection
from django.test import Client

from accounts.models import MAX_TOKENS_PER_USER, ApiToken, Team, TokenRefused
from tests.factories import add_member, bearer, default_team, make_member, make_team, make_user

pytestmark = pytest.mark.django_db


def form(team: Team, role: str = "viewer", **fields: str) -> dict[str, object]:
    return {"name": "ci", "team": team.pk, "role": role, "expires": "30", **fields}


def test_it_asks_for_a_login(client: Client) -> None:
    response = client.get("/accounts/tokens/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_it_creates_a_token_and_shows_it_once(client: Client) -> None:
    user = make_member("reader")
    client.force_login(user)
    response = client.post("/accounts/tokens/", form(default_team()))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = re.search(r"data-token>(dit_[^<]+)<", response.content.decode()).group(1)  # type: ignore[union-attr]
    token = ApiToken.objects.get(user=user)
    assert token.name == "ci"
    assert token.expires_at is not None
    assert (token.team, token.role) == (default_team(), "viewer")
    assert raw not in token.token_hash
    assert Client().get("/api/v1/sources", **bearer(raw)).status_code == 200
    listing = client.get("/accounts/tokens/").content.decode()
    assert raw not in listing
    assert token.prefix in listing


def test_it_offers_only_the_users_teams(client: Client) -> None:
    mine, theirs = make_team("blue"), make_team("red")
    user = make_user("ada")
    add_member(user, mine, "operator")
    client.force_login(user)
    page = client.get("/accounts/tokens/").content.decode()
    assert f'value="{mine.pk}"' in page
    assert f'value="{theirs.pk}"' not in page
    response = client.post("/accounts/tokens/", form(theirs))
    assert response.status_code == 400  # refused, as every form of the product (accounts.refused_forms)
    assert "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_it_refuses_a_role_above_the_users_own(client: Client) -> None:
    team = make_team("blue")
    user = make_user("ada")
    add_member(user, team, "operator")
    client.force_login(user)
    response = client.post("/accounts/tokens/", form(team, "admin"))
    assert response.status_code == 400
    assert "Higher than your own role in Blue" in response.content.decode()
    assert not ApiToken.objects.exists()
    client.post("/accounts/tokens/", form(team, "operator"))
    assert ApiToken.objects.get().role == "operator"


def test_it_refuses_a_duplicate_name(client: Client) -> None:
    user = make_member("reader")
    ApiToken.issue(user, "ci")
    client.force_login(user)
    response = client.post("/accounts/tokens/", form(default_team(), expires="never"))
    assert response.status_code == 400
    assert "already have a token" in response.content.decode()
    assert ApiToken.objects.filter(user=user).count() == 1


def test_it_revokes_only_the_users_own_tokens(client: Client) -> None:
    user, other = make_member("reader"), make_member("other")
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

    client.force_login(make_member("reader"))
    page = client.post("/accounts/tokens/", form(default_team())).content.decode()
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


def test_it_refuses_a_token_past_the_cap_of_50_per_user(client: Client) -> None:
    user = make_member("reader")
    client.force_login(user)
    for n in range(MAX_TOKENS_PER_USER):
        ApiToken.issue(user, f"t{n}", team=default_team())
    refused = client.post("/accounts/tokens/", form(default_team()))
    assert refused.status_code == 400
    assert "You have 50 tokens; revoke some first." in refused.content.decode()
    # The cap is the model's, whoever issues: the form's count alone was read before the token was made.
    with pytest.raises(TokenRefused, match="You have 50 tokens; revoke some first"):
        ApiToken.issue(user, "one more", team=default_team())
    assert ApiToken.objects.filter(user=user).count() == MAX_TOKENS_PER_USER


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_cap_when_tokens_are_created_at_once() -> None:
    """Six requests create a token each with 48 made: two get theirs, four the cap's error (PostgreSQL's row lock)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers (run with DATABASE_URL=postgres://...)")
    user = make_member("reader")
    for n in range(MAX_TOKENS_PER_USER - 2):
        ApiToken.issue(user, f"t{n}", team=default_team())
    start = threading.Barrier(6)
    answers: list[str] = []

    def create(n: int) -> None:
        try:
            browser = Client()
            browser.force_login(user)
            start.wait(timeout=10)
            page = browser.post("/accounts/tokens/", form(default_team(), name=f"at once {n}")).content.decode()
            answers.append("refused" if "revoke some first" in page else "created" if "data-token>" in page else page)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == ["created"] * 2 + ["refused"] * 4
    assert ApiToken.objects.filter(user=user).count() == MAX_TOKENS_PER_USER


def test_it_refuses_a_name_taken_between_the_check_and_the_save(client: Client) -> None:
    user = make_member("reader")
    ApiToken.issue(user, "ci", team=default_team())
    with pytest.raises(TokenRefused, match="You already have a token with this name"):
        ApiToken.issue(user, "ci", team=default_team())
