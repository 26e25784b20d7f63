"""Every dashboard page and endpoint needs a login; the auth pages themselves work end to end."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import PASSWORD, make_user

PAGES = [
    "/",
    "/sources/us-east/",
    "/sources/us-east/changes/",
    "/sources/us-east/latest.json",
    "/system/",
    "/accounts/password/",
]
JSON_ENDPOINTS = ["/overview/cards.json", "/overview/sparklines.json", "/sources/us-east/series.json"]


@pytest.fixture
def user(db):  # type: ignore[no-untyped-def]
    return make_user("ada")


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_it_redirects_anonymous_visitors_to_the_login_page(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_it_answers_401_json_to_anonymous_scripts(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.json() == {"error": "authentication required"}


@pytest.mark.django_db
def test_it_renders_the_login_page_with_the_base_layout(client: Client) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<form method="post" action="/accounts/login/"' in html
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert "Skip to content" in html  # base.html
    assert 'name="viewport"' in html


def test_it_logs_in_and_back_out(client: Client, user) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/accounts/login/", {"username": "ada", "password": PASSWORD, "next": "/system/"})
    assert response.status_code == 302
    assert response["Location"] == "/system/"
    # Logged in, a non-staff user is refused the staff page rather than sent round the login loop.
    assert client.get("/system/").status_code == 403
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/system/").status_code == 302


def test_it_refuses_a_wrong_password_with_a_message(client: Client, user) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/accounts/login/", {"username": "ada", "password": "nope"})
    assert response.status_code == 400  # the form again, refused (accounts.refused_forms)
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_changes_the_password(client: Client, user) -> None:  # type: ignore[no-untyped-def]
    client.force_login(user)
    new = "another-long-passphrase-42"
    response = client.post(
        "/accounts/password/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/done/"
    assert "Password changed" in client.get("/accounts/password/done/").content.decode()
    user.refresh_from_db()
    assert user.check_password(new)


def test_it_keeps_the_password_when_the_old_one_is_wrong(client: Client, user) -> None:  # type: ignore[no-untyped-def]
    client.force_login(user)
    new = "x-long-pass-99"
    response = client.post("/accounts/password/", {"old_password": "wrong", "new_password1": new, "new_password2": new})
    assert response.status_code == 400  # the form again, refused (accounts.refused_forms)
    assert "Your old password was entered incorrectly" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_it_sends_a_content_security_policy_without_inline_scripts(client: Client) -> None:
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert "unsafe-inline" not in policy
    assert directives["frame-ancestors"] == "'none'"
    assert "<script>" not in response.content.decode()
