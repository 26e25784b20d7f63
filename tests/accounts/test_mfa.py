"""Second factor: TOTP login with a code computed here, recovery codes, and staff forced to enrol first."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client

from accounts.models import ApiToken, AuditEvent
from tests.accounts.support import enrol_totp, post_login, totp_code
from tests.factories import PASSWORD, default_team, make_member, make_user

pytestmark = pytest.mark.django_db

AUTHENTICATE = "/accounts/2fa/authenticate/"


def test_it_asks_for_the_code_and_logs_in_with_it(client: Client) -> None:
    user = make_user("ops")
    secret, _codes = enrol_totp(user)
    response = post_login(client, "ops")
    assert response.status_code == 302
    assert response["Location"] == AUTHENTICATE
    assert client.get("/").status_code == 302  # not logged in before the second factor
    wrong = client.post(AUTHENTICATE, {"code": "000000" if totp_code(secret) != "000000" else "111111"})
    assert wrong.status_code == 400  # the code form again, refused
    assert client.get("/").status_code == 302
    done = client.post(AUTHENTICATE, {"code": totp_code(secret)})
    assert done.status_code == 302
    assert client.get("/").status_code == 200
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"login", "mfa_failed"} <= actions


def test_it_accepts_a_recovery_code_once(client: Client) -> None:
    user = make_user("ops")
    _secret, codes = enrol_totp(user)
    post_login(client, "ops")
    assert client.post(AUTHENTICATE, {"code": codes[0]}).status_code == 302
    assert client.get("/").status_code == 200
    again = Client()
    post_login(again, "ops")
    assert again.post(AUTHENTICATE, {"code": codes[0]}).status_code == 400  # used up: refused
    assert again.get("/").status_code == 302


def test_it_enrols_totp_through_the_page_and_audits_it(client: Client, django_capture_on_commit_callbacks: Any) -> None:
    user = make_user("ops")
    client.force_login(user)
    # Adding a factor asks for the password again first.
    assert client.get("/accounts/2fa/totp/activate/")["Location"].startswith("/accounts/reauthenticate/")
    assert client.post("/accounts/reauthenticate/", {"password": PASSWORD}).status_code == 302
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = page.context["form"].secret
    with django_capture_on_commit_callbacks(execute=True):  # allauth announces the new factor on commit
        response = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert AuditEvent.objects.filter(action="mfa_added", actor=user, detail__authenticator="totp").exists()


@pytest.fixture
def mfa_required(settings: Any) -> Any:
    settings.REQUIRE_MFA_FOR_STAFF = True
    return settings


def test_it_sends_staff_without_a_second_factor_to_enrol_before_the_admin(client: Client, mfa_required: Any) -> None:
    make_user("boss", staff=True)
    assert post_login(client, "boss").status_code == 302
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"
    assert client.get("/accounts/2fa/").status_code == 200
    assert client.get("/accounts/2fa/totp/activate/").status_code in (200, 302)  # enrolment pages stay reachable
    assert client.get("/").status_code == 200  # reading the dashboards stays open


def test_it_refuses_a_write_view_to_staff_without_a_second_factor(client: Client, mfa_required: Any) -> None:
    user = make_member("boss", staff=True)
    client.force_login(user)
    form = {"name": "ci", "team": default_team().pk, "role": "viewer", "expires": "30"}
    response = client.post("/accounts/tokens/", form)
    assert response.status_code == 403
    assert not ApiToken.objects.filter(user=user).exists()
    enrol_totp(user)
    assert client.post("/accounts/tokens/", form).status_code == 200
    assert ApiToken.objects.filter(user=user).exists()
    assert client.get("/admin/").status_code == 200


def test_it_refuses_an_api_write_to_staff_without_a_second_factor_in_the_apis_shape(
    client: Client, mfa_required: Any
) -> None:
    # Under /api/ the refusal reached the client reshaped as the generic 403 "forbidden", "You are not allowed to
    # do this.": an undocumented code that did not say a second factor was missing, nor where to add one.
    user = make_member("boss", role="admin", staff=True)
    client.force_login(user)
    response = client.post("/api/v1/annotations", {"text": "deploy"}, content_type="application/json")
    assert (response.status_code, response["Content-Type"]) == (403, "application/json")
    assert response.json() == {
        "error": {
            "code": "mfa_required",
            "message": "Staff accounts need a second factor: set up an authenticator app or a passkey to continue.",
            "details": {"enrol_url": "/accounts/2fa/"},
        }
    }
    assert response["X-Request-ID"]
    assert client.get("/api/v1/annotations").status_code == 200  # reads stay open, as on the pages
    page = client.post("/accounts/tokens/", {"name": "ci", "team": default_team().pk, "role": "viewer"})
    assert (page.status_code, page["Content-Type"]) == (403, "text/plain; charset=utf-8")  # a page's stays text
    enrol_totp(user)
    assert client.post("/api/v1/annotations", {"text": "deploy"}, content_type="application/json").status_code == 201


def test_it_lets_users_who_are_not_staff_write_without_a_second_factor(client: Client, mfa_required: Any) -> None:
    client.force_login(make_member("reader"))
    form = {"name": "ci", "team": default_team().pk, "role": "viewer", "expires": "30"}
    assert client.post("/accounts/tokens/", form).status_code == 200


def test_it_requires_nothing_when_the_setting_is_off(client: Client, settings: Any) -> None:
    settings.REQUIRE_MFA_FOR_STAFF = False
    client.force_login(make_user("boss", staff=True))
    assert client.get("/admin/").status_code == 200
