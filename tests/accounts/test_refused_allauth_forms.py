"""A refused form answers 400 on the password page and on django-allauth's account pages too
(``accounts.refused_forms.RefusedFormStatus``; allauth's form views are wrapped in ``accounts/allauth_urls.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.decorators import login_required
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.views.generic.edit import FormView

from accounts.allauth_urls import refusing_with_400
from accounts.refused_forms import RefusedFormStatus
from tests.accounts.support import enrol_totp, post_login
from tests.factories import PASSWORD, make_user


def views(patterns: list[URLPattern | URLResolver], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from views(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.callback


@pytest.mark.django_db
def test_it_answers_400_to_a_refused_login_with_the_form_and_its_error(client: Client) -> None:
    make_user("ops")
    response = post_login(client, "ops", "not-the-password")
    assert response.status_code == 400
    page = response.content.decode()
    assert "Please enter a correct username and password" in page
    assert 'name="password"' in page, "the form again"
    assert post_login(client, "ops").status_code == 302, "a login taken still redirects"


@pytest.mark.django_db
def test_it_answers_400_to_a_wrong_second_factor_code(client: Client) -> None:
    enrol_totp(make_user("ops"))
    assert post_login(client, "ops").status_code == 302
    response = client.post("/accounts/2fa/authenticate/", {"code": "not-a-code"})
    assert response.status_code == 400
    assert 'name="code"' in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "data"),
    [
        # The product's own password page (Django's form) and allauth's.
        ("/accounts/password/", {"old_password": "wrong", "new_password1": "x-long-pass-99", "new_password2": "x"}),
        ("/accounts/password/change/", {"oldpassword": "wrong", "password1": "x-long-pass-99", "password2": "x"}),
    ],
)
def test_it_answers_400_to_a_refused_password_change(client: Client, path: str, data: dict[str, str]) -> None:
    user = make_user("ops")
    client.force_login(user)
    response = client.post(path, data)
    assert response.status_code == 400
    assert "error" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
def test_it_answers_400_to_a_refused_reset_request_and_keeps_allauths_redirects(client: Client) -> None:
    assert client.post("/accounts/password/reset/", {"email": "not an address"}).status_code == 400
    # allauth answers a refused passkey login with a redirect to the login page: it stays a redirect.
    refused_passkey = client.post("/accounts/2fa/webauthn/login/", {"credential": "{}"})
    assert (refused_passkey.status_code, refused_passkey["Location"]) == (302, "/accounts/login/")


def test_it_answers_400_on_every_form_view_of_the_account_pages() -> None:
    # A view allauth adds on an upgrade, or one it wraps in a decorator outside as_view (left as it is by
    # refusing_with_400, so that it keeps the decorator), shows here.
    form_views = {
        route: callback.view_class
        for route, callback in views(get_resolver().url_patterns)
        if route.startswith("accounts/") and callable(getattr(getattr(callback, "view_class", None), "form_invalid", 0))
    }
    assert "accounts/login/" in form_views
    assert "accounts/2fa/authenticate/" in form_views
    plain = sorted(route for route, view_class in form_views.items() if not issubclass(view_class, RefusedFormStatus))
    assert not plain, "form views answering 200 to a refused form"


def test_it_leaves_a_view_decorated_outside_as_view_as_it_is() -> None:
    decorated = login_required(FormView.as_view())
    assert refusing_with_400(decorated) is decorated
    plain = FormView.as_view(template_name="x.html")
    wrapped = refusing_with_400(plain)
    assert issubclass(wrapped.view_class, RefusedFormStatus)  # type: ignore[attr-defined]
    assert wrapped.view_initkwargs == {"template_name": "x.html"}  # type: ignore[attr-defined]
