"""Rate limits per client IP and per token on the shared cache: 429 with Retry-After, then recovery."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client, RequestFactory

from accounts.client_ip import client_ip, rate_limit_key
from accounts.models import ApiToken
from tests.api.support import assert_error, away_from_a_window_edge
from tests.factories import bearer, make_token

pytestmark = pytest.mark.django_db


def wait_out(response: Any) -> None:
    time.sleep(int(response["Retry-After"]))


def test_it_limits_a_token_then_lets_it_through_again(client: Client, redis_settings: Any, redis_client: Any) -> None:
    redis_settings.API_RATE_LIMIT_TOKEN = "3/2s"
    redis_settings.API_RATE_LIMIT_IP = "1000/m"
    token = make_token()
    away_from_a_window_edge(f"token:{ApiToken.objects.get().pk}", 2)
    responses = [client.get("/api/v1/sources", **bearer(token)) for _ in range(3)]
    limited = client.get("/api/v1/sources", **bearer(token))
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0"]
    assert responses[0]["X-RateLimit-Limit"] == "3"
    assert limited["X-RateLimit-Remaining"] == "0"
    error = assert_error(limited, 429, "rate_limited")
    assert 1 <= int(limited["Retry-After"]) <= 3
    assert error["details"]["scope"] == "token"
    # The counters live in Redis, so every web process sees the same ones.
    assert redis_client.keys("*rl:*")
    wait_out(limited)
    assert client.get("/api/v1/sources", **bearer(token)).status_code == 200


def test_it_counts_each_token_apart(client: Client, redis_settings: Any) -> None:
    redis_settings.API_RATE_LIMIT_TOKEN = "2/h"
    redis_settings.API_RATE_LIMIT_IP = "1000/m"
    first, second = make_token("a"), make_token("b")
    for _ in range(2):
        assert client.get("/api/v1/sources", **bearer(first)).status_code == 200
    assert_error(client.get("/api/v1/sources", **bearer(first)), 429)
    assert client.get("/api/v1/sources", **bearer(second)).status_code == 200


def test_it_limits_an_ip_even_before_authentication(client: Client, redis_settings: Any) -> None:
    redis_settings.API_RATE_LIMIT_IP = "3/2s"
    away_from_a_window_edge("127.0.0.1", 2)
    for _ in range(3):
        assert_error(client.get("/api/v1/sources", **bearer("dit_guess")), 401)
    limited = client.get("/api/v1/sources", **bearer("dit_guess"))
    error = assert_error(limited, 429)
    assert error["details"]["scope"] == "ip"
    other_ip = client.get("/api/v1/sources", REMOTE_ADDR="10.1.2.3", **bearer("dit_guess"))
    assert_error(other_ip, 401)
    wait_out(limited)
    assert_error(client.get("/api/v1/sources", **bearer("dit_guess")), 401)


def test_it_limits_an_ipv6_client_by_its_64_network(client: Client, settings: Any) -> None:
    # Keyed per address, one client holding a /64 (as ISPs hand out) had 2^64 budgets: a new address per try.
    settings.API_RATE_LIMIT_IP = "2/d"  # a day: the test never straddles a fixed window
    for address in ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"):
        assert_error(client.get("/api/v1/sources", REMOTE_ADDR=address, **bearer("dit_guess")), 401)
    limited = client.get("/api/v1/sources", REMOTE_ADDR="2001:db8:1:2:abcd::9", **bearer("dit_guess"))
    assert assert_error(limited, 429)["details"]["scope"] == "ip"
    assert_error(client.get("/api/v1/sources", REMOTE_ADDR="2001:db8:1:3::1", **bearer("dit_guess")), 401)


def test_it_limits_an_ipv4_client_per_address_in_either_spelling(client: Client, settings: Any) -> None:
    settings.API_RATE_LIMIT_IP = "2/d"
    # A dual-stack socket reports an IPv4 client as ::ffff:a.b.c.d: the same client, the same budget.
    for address in ("10.1.2.3", "::ffff:10.1.2.3"):
        assert_error(client.get("/api/v1/sources", REMOTE_ADDR=address, **bearer("dit_guess")), 401)
    assert_error(client.get("/api/v1/sources", REMOTE_ADDR="::ffff:10.1.2.3", **bearer("dit_guess")), 429)
    assert_error(client.get("/api/v1/sources", REMOTE_ADDR="10.1.2.4", **bearer("dit_guess")), 401)


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::", "2001:db8:1:2::/64"),
        ("::1", "::/64"),
        ("", "0.0.0.0"),  # noqa: S104  # a Unix socket: one client
        ("unix:/run/app.sock", "unix:/run/app.sock"),  # not an address: counted as it is
    ],
)
def test_it_keys_rate_limits_by_ipv4_address_or_ipv6_64_network(settings: Any, address: str, key: str) -> None:
    settings.CLIENT_IP_HEADER = ""
    assert rate_limit_key(RequestFactory().get("/", REMOTE_ADDR=address)) == key


def test_it_fails_open_when_the_cache_is_down(client: Client, settings: Any) -> None:
    from tests.services import free_port

    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5},
        }
    }
    settings.SHARED_CACHE_ALIAS = settings.WAFFLE_CACHE_NAME = "default"  # as settings.py chooses with REDIS_URL
    settings.API_RATE_LIMIT_TOKEN = "1/m"
    token = make_token()
    assert [client.get("/api/v1/sources", **bearer(token)).status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize(
    ("header", "count", "forwarded", "expected"),
    [
        ("", 1, "203.0.113.9", "127.0.0.1"),  # no proxy configured: the header is ignored
        ("X-Forwarded-For", 1, "203.0.113.9", "203.0.113.9"),
        ("X-Forwarded-For", 1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the client forged the first entry
        ("X-Forwarded-For", 2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        ("X-Forwarded-For", 2, "203.0.113.9", "127.0.0.1"),  # fewer entries than proxies: not trusted
        ("X-Forwarded-For", 1, "not-an-ip", "127.0.0.1"),
        ("X-Real-IP", 1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_it_reads_the_client_ip_as_configured(
    settings: Any, header: str, count: int, forwarded: str, expected: str
) -> None:
    settings.CLIENT_IP_HEADER = header
    settings.TRUSTED_PROXY_COUNT = count
    meta_name = "HTTP_" + (header or "X-Forwarded-For").upper().replace("-", "_")
    request = RequestFactory().get("/api/v1/sources", **{meta_name: forwarded})
    assert client_ip(request) == expected
