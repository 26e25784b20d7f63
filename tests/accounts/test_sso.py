"""Single sign-on against a real OpenID Connect provider on loopback (oidc-provider-mock, started here):
discovery, authorization, token and userinfo over real sockets; the allowed e-mail domains; SSO-only mode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import oidc_provider_mock
import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import AuditEvent
from tests.accounts.support import post_login
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PROVIDER_LOGIN = "/accounts/oidc/oidc/login/"
PEOPLE = [
    oidc_provider_mock.User(
        sub="alice", claims={"email": "alice@example.com", "email_verified": True, "preferred_username": "alice"}
    ),
    oidc_provider_mock.User(
        sub="mallory", claims={"email": "mallory@elsewhere.test", "email_verified": True, "preferred_username": "mal"}
    ),
    # An address added to a profile at the provider without proving it is reported unverified.
    oidc_provider_mock.User(
        sub="eve", claims={"email": "eve@example.com", "email_verified": False, "preferred_username": "eve"}
    ),
]


@pytest.fixture
def provider(settings: Any) -> Iterator[str]:
    with oidc_provider_mock.run_server_in_thread(user_claims=PEOPLE) as server:
        issuer = f"http://localhost:{server.server_port}"
        settings.SOCIALACCOUNT_PROVIDERS = {
            "openid_connect": {
                "OAUTH_PKCE_ENABLED": True,
                "APPS": [
                    {
                        "provider_id": "oidc",
                        "name": "Company SSO",
                        "client_id": "devops-insights",
                        "secret": "test-client-secret",
                        "settings": {"server_url": issuer, "fetch_userinfo": True},
                    }
                ],
            }
        }
        yield issuer


def sign_in_at_provider(client: Client, subject: str) -> Any:
    """Start SSO from the login page, choose ``subject`` at the provider, come back with the code."""
    start = client.post(PROVIDER_LOGIN)
    assert start.status_code == 302, start.content[:500]
    authorize_url = start["Location"]
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["client_id"] == ["devops-insights"]
    assert "code_challenge" in query  # PKCE
    answer = requests.post(authorize_url, data={"sub": subject}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:500]
    callback = urlsplit(answer.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")


def test_it_offers_the_configured_provider_on_the_login_page(client: Client, provider: str) -> None:
    page = client.get("/accounts/login/").content.decode()
    assert "Continue with Company SSO" in page
    assert PROVIDER_LOGIN in page


def test_it_signs_in_with_openid_connect_and_makes_the_account(client: Client, provider: str) -> None:
    response = sign_in_at_provider(client, "alice")
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    user = get_user_model().objects.get(email="alice@example.com")
    assert not user.is_staff
    assert not user.has_usable_password()
    event = AuditEvent.objects.get(action="login", actor=user)
    assert event.detail == {"method": "sso", "provider": "oidc"}


def test_it_refuses_an_email_domain_not_in_the_list(client: Client, provider: str, settings: Any) -> None:
    settings.SSO_ALLOWED_EMAIL_DOMAINS = ["example.com"]
    response = sign_in_at_provider(client, "mallory")
    assert response.status_code == 403
    assert "Sign-in refused" in response.content.decode()
    assert client.get("/").status_code == 302
    assert not get_user_model().objects.filter(email="mallory@elsewhere.test").exists()
    assert AuditEvent.objects.filter(action="sso_refused", actor_label="mallory@elsewhere.test").exists()
    assert sign_in_at_provider(Client(), "alice").status_code == 302  # the listed domain still gets in


def test_it_refuses_an_unverified_address_in_an_allowed_domain(client: Client, provider: str, settings: Any) -> None:
    # The domain list counted every address the provider reported, verified or not: anyone who added an
    # unverified example.com address to their profile at the provider was let in and given an account.
    settings.SSO_ALLOWED_EMAIL_DOMAINS = ["example.com"]
    response = sign_in_at_provider(client, "eve")
    assert response.status_code == 403
    assert "Sign-in refused" in response.content.decode()
    assert client.get("/").status_code == 302
    assert not get_user_model().objects.filter(email="eve@example.com").exists()
    assert AuditEvent.objects.filter(action="sso_refused", actor_label="eve@example.com").exists()


def test_it_refuses_a_password_login_in_sso_only_mode_except_for_superusers(client: Client, settings: Any) -> None:
    settings.SSO_ONLY = True
    make_user("ops")
    make_user("root", superuser=True)
    refused = post_login(client, "ops")
    assert refused.status_code == 400
    assert "use single sign-on" in refused.content.decode()
    assert client.get("/").status_code == 302
    assert AuditEvent.objects.filter(action="login_refused_sso_only", actor_label="ops").exists()
    assert post_login(Client(), "root").status_code == 302


def test_it_mails_no_reset_link_to_non_superusers_in_sso_only_mode(client: Client, settings: Any) -> None:
    from django.core import mail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SSO_ONLY = True
    make_user("ops", email="ops@example.com")
    make_user("root", superuser=True, email="root@example.com")
    assert client.post("/accounts/password/reset/", {"email": "ops@example.com"}).status_code == 302
    assert mail.outbox == []
    assert client.post("/accounts/password/reset/", {"email": "root@example.com"}).status_code == 302
    assert [m.to for m in mail.outbox] == [["root@example.com"]]
