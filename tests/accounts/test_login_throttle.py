"""Login and admin login are rate limited per IP and per username, whatever view answers there.

Hourly limits: each login POST hashes a password (slow on purpose), and a burst must not straddle the
edge of a fixed window, which would start the count again mid-test.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def test_it_throttles_admin_login_per_username(client: Client, redis_settings: Any) -> None:
    redis_settings.LOGIN_RATE_LIMIT_USERNAME = "3/h"
    redis_settings.LOGIN_RATE_LIMIT_IP = "100/m"
    make_user("admin", staff=True)
    for _ in range(3):
        response = client.post("/admin/login/", {"username": "admin", "password": "wrong-password"})
        assert response.status_code == 200  # the form again, with its error
    blocked = client.post("/admin/login/", {"username": "Admin", "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) >= 1
    # Another account from the same address is not locked out by this one.
    response = client.post("/admin/login/", {"username": "someone", "password": "x"}, REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200


def test_it_throttles_login_per_ip_across_usernames(client: Client, redis_settings: Any) -> None:
    redis_settings.LOGIN_RATE_LIMIT_IP = "4/h"
    for i in range(4):
        assert client.post("/admin/login/", {"username": f"user{i}", "password": "x"}).status_code == 200
    assert client.post("/admin/login/", {"username": "user9", "password": "x"}).status_code == 429
    assert (
        client.post("/admin/login/", {"username": "user9", "password": "x"}, REMOTE_ADDR="10.9.9.9").status_code == 200
    )


def test_it_leaves_the_login_page_itself_alone(client: Client, redis_settings: Any) -> None:
    redis_settings.LOGIN_RATE_LIMIT_IP = "1/m"
    assert all(client.get("/admin/login/").status_code == 200 for _ in range(3))


def test_it_never_counts_successful_logins_against_the_username(client: Client, redis_settings: Any) -> None:
    redis_settings.LOGIN_RATE_LIMIT_USERNAME = "2/h"
    make_user("admin", staff=True)
    for _ in range(4):
        response = Client().post("/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD})
        assert response.status_code == 302


def test_it_throttles_the_dashboard_login_path_too(client: Client, redis_settings: Any) -> None:
    redis_settings.LOGIN_RATE_LIMIT_USERNAME = "2/h"
    for _ in range(2):
        assert client.post("/accounts/login/", {"username": "ops", "password": "x"}).status_code != 429
    blocked = client.post("/accounts/login/", {"username": "ops", "password": "x"})
    assert blocked.status_code == 429
    assert "Too many login attempts" in blocked.content.decode()
