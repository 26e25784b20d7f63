"""The login lockout: counted atomically before the password is checked, per user name + client.

Concurrent tests run against a live server (real sockets, threads) with the Redis cache, the way
several web workers share one count in production. The audit tells how many attempts reached the
password check: ``login_failed`` is written only after a password was checked, ``login_locked``
for an attempt refused before it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from django.test import Client

from accounts.models import AuditEvent
from tests.accounts.support import post_login
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)

ATTEMPTS = 18
LIMIT = 5
LOCKED_TEXT = "Too many failed login attempts"


def browser(base_url: str, client_ip: str) -> requests.Session:
    """A session that has loaded the login page (CSRF cookie), from ``client_ip`` as the trusted proxy header says."""
    session = requests.Session()
    session.headers["X-Forwarded-For"] = client_ip
    session.headers["Referer"] = base_url + "/accounts/login/"
    session.get(base_url + "/accounts/login/", timeout=10).raise_for_status()
    return session


def attempt(session: requests.Session, base_url: str, login: str, password: str) -> requests.Response:
    return session.post(
        base_url + "/accounts/login/",
        data={"login": login, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        allow_redirects=False,
        timeout=30,
    )


def concurrently(sessions: list[requests.Session], base_url: str, login: str, password: str) -> list[int]:
    barrier = threading.Barrier(len(sessions))

    def one(session: requests.Session) -> int:
        barrier.wait(timeout=30)
        return attempt(session, base_url, login, password).status_code

    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        return list(pool.map(one, sessions))


@pytest.fixture
def lockout(redis_settings: Any) -> Any:
    redis_settings.LOGIN_RATE_LIMIT_USERNAME = f"{LIMIT}/h"
    redis_settings.LOGIN_RATE_LIMIT_IP = "100/h"
    redis_settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    redis_settings.TRUSTED_PROXY_COUNT = 1
    return redis_settings


def test_it_lets_at_most_the_limit_of_concurrent_wrong_passwords_reach_the_check(
    lockout: Any, live_server: Any
) -> None:
    make_user("admin", staff=True)
    sessions = [browser(live_server.url, "10.0.0.66") for _ in range(ATTEMPTS)]
    statuses = concurrently(sessions, live_server.url, "admin", "wrong-password")
    # The form again with its error (400), or 429 when allauth's per-address login rate lock was busy: nobody
    # got in.
    assert set(statuses) <= {400, 429}
    checked = AuditEvent.objects.filter(action="login_failed", actor_label="admin").count()
    refused = AuditEvent.objects.filter(action="login_locked", actor_label="admin").count()
    assert 1 <= checked <= LIMIT
    assert checked + refused + statuses.count(429) == ATTEMPTS
    # The pair stays locked: even the right password is not checked from this client.
    response = attempt(sessions[0], live_server.url, "admin", PASSWORD)
    assert response.status_code == 400
    assert LOCKED_TEXT in response.text


def test_it_never_lets_a_strangers_concurrent_failures_lock_the_owner_out(lockout: Any, live_server: Any) -> None:
    make_user("admin", staff=True)
    owner = browser(live_server.url, "192.0.2.10")
    owner_at_the_strangers_address = browser(live_server.url, "10.0.0.66")
    # The owner has logged in from this browser before: it is a known device.
    assert attempt(owner_at_the_strangers_address, live_server.url, "admin", PASSWORD).status_code == 302
    owner_at_the_strangers_address.post(
        live_server.url + "/accounts/logout/",
        data={"csrfmiddlewaretoken": owner_at_the_strangers_address.cookies["csrftoken"]},
        timeout=10,
    )
    assert owner_at_the_strangers_address.cookies.get("di_known_device")

    strangers = [browser(live_server.url, "10.0.0.66") for _ in range(ATTEMPTS)]
    statuses = concurrently(strangers, live_server.url, "admin", "guess")
    assert set(statuses) <= {400, 429}
    assert AuditEvent.objects.filter(action="login_failed", actor_label="admin").count() <= LIMIT
    assert LOCKED_TEXT in attempt(strangers[0], live_server.url, "admin", PASSWORD).text  # the stranger is locked

    # The owner from another address, and from the stranger's address on a known device, gets in.
    assert attempt(owner, live_server.url, "admin", PASSWORD).status_code == 302
    owner_at_the_strangers_address.get(live_server.url + "/accounts/login/", timeout=10)
    assert attempt(owner_at_the_strangers_address, live_server.url, "admin", PASSWORD).status_code == 302


def test_it_rolls_back_the_count_of_a_successful_login(client: Client, redis_settings: Any) -> None:
    redis_settings.LOGIN_RATE_LIMIT_USERNAME = "2/h"
    make_user("admin", staff=True)
    for _ in range(4):
        assert post_login(Client(), "admin").status_code == 302


def test_it_limits_failures_per_client_address_across_user_names(client: Client, redis_settings: Any) -> None:
    redis_settings.LOGIN_RATE_LIMIT_IP = "4/h"
    for i in range(4):
        assert LOCKED_TEXT not in post_login(client, f"user{i}", "x").content.decode()
    assert LOCKED_TEXT in post_login(client, "user9", "x").content.decode()
    assert LOCKED_TEXT not in post_login(client, "user9", "x", REMOTE_ADDR="10.9.9.9").content.decode()


def test_it_counts_a_user_names_failures_per_ipv6_64_network(client: Client, redis_settings: Any) -> None:
    # The user name + address pair was keyed by the whole IPv6 address: a client holding a /64 took a new
    # address for every guess and was never locked out of the account.
    redis_settings.LOGIN_RATE_LIMIT_USERNAME = "2/h"
    redis_settings.LOGIN_RATE_LIMIT_IP = "100/h"
    make_user("admin", staff=True)
    for address in ("2001:db8:1:2::1", "2001:db8:1:2::2"):
        assert LOCKED_TEXT not in post_login(client, "admin", "x", REMOTE_ADDR=address).content.decode()
    assert LOCKED_TEXT in post_login(client, "admin", "x", REMOTE_ADDR="2001:db8:1:2::3").content.decode()
    assert LOCKED_TEXT not in post_login(client, "admin", "x", REMOTE_ADDR="2001:db8:1:3::1").content.decode()


def test_it_counts_ipv4_clients_of_a_dual_stack_socket_each_apart(client: Client, redis_settings: Any) -> None:
    # A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; taken as IPv6, their /64 is ::, so every IPv4
    # client shared one budget and a few failures locked every one of them out.
    redis_settings.LOGIN_RATE_LIMIT_IP = "2/h"
    for i in range(2):
        post_login(client, f"user{i}", "x", REMOTE_ADDR="::ffff:10.0.0.1")
    assert LOCKED_TEXT in post_login(client, "user9", "x", REMOTE_ADDR="::ffff:10.0.0.1").content.decode()
    assert LOCKED_TEXT not in post_login(client, "user9", "x", REMOTE_ADDR="::ffff:10.0.0.2").content.decode()


def test_it_leaves_the_login_page_itself_alone(client: Client, redis_settings: Any) -> None:
    redis_settings.LOGIN_RATE_LIMIT_IP = "1/h"
    assert all(client.get("/accounts/login/").status_code == 200 for _ in range(3))


def test_it_ignores_a_forged_known_device_cookie(client: Client, redis_settings: Any) -> None:
    redis_settings.LOGIN_RATE_LIMIT_USERNAME = "2/h"
    make_user("admin", staff=True)
    client.cookies["di_known_device"] = "forged"
    for _ in range(2):
        post_login(client, "admin", "wrong")
    assert LOCKED_TEXT in post_login(client, "admin", PASSWORD).content.decode()
