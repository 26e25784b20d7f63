"""The SSRF guard: at save time, at request time, and on every redirect hop."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from django.core.exceptions import ValidationError

from pollers.fetch import Fetcher, FetchPolicy
from pollers.models import Source
from pollers.ssrf import Allowlist, PinnedAdapter, UnsafeURLError, resolve_target
from tests.simulator import RunningSimulator

NOBODY = Allowlist([])


def resolver_for(answers: dict[str, list[str]]) -> Any:
    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    return resolve


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/", "javascript:alert(1)", "//x/y"]
)
def test_it_refuses_schemes_other_than_http_and_https(url: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        resolve_target(url, NOBODY)
    assert caught.value.kind in {"bad_scheme", "bad_url"}


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("[::1]", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.5", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.10.10", "link-local"),
        ("[fd00:ec2::254]", "metadata"),
        ("[fe80::1]", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address under test, not a bind
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not a public address"),
        ("[::ffff:127.0.0.1]", "loopback"),
    ],
)
def test_it_refuses_addresses_that_are_not_public(address: str, reason: str) -> None:
    with pytest.raises(UnsafeURLError, match=reason) as caught:
        resolve_target(f"http://{address}:8080/status", NOBODY)
    assert caught.value.kind == "forbidden_address"


def test_it_lets_public_addresses_through_and_keeps_what_it_checked() -> None:
    target = resolve_target(
        "https://status.example.com/v1?stats=1", NOBODY, resolver_for({"status.example.com": ["93.184.216.34"]})
    )
    assert target.addresses == ("93.184.216.34",)
    assert target.host_header == "status.example.com"
    assert target.pinned_url("93.184.216.34") == "https://93.184.216.34:443/v1?stats=1"


def test_it_refuses_a_name_that_resolves_to_a_private_address() -> None:
    resolver = resolver_for({"evil.example.com": ["93.184.216.34", "10.0.0.7"], "localhost": ["127.0.0.1"]})
    with pytest.raises(UnsafeURLError, match=r"10\.0\.0\.7"):
        resolve_target("http://evil.example.com/", NOBODY, resolver)
    with pytest.raises(UnsafeURLError, match="loopback"):
        resolve_target("http://localhost:8001/status/us-east", NOBODY)  # the system resolver


def test_it_refuses_metadata_host_names_credentials_and_unknown_hosts() -> None:
    with pytest.raises(UnsafeURLError, match="metadata"):
        resolve_target("http://metadata.google.internal/computeMetadata/v1/", NOBODY)
    with pytest.raises(UnsafeURLError, match="credentials"):
        resolve_target("http://user:hunter2@93.184.216.34/", NOBODY)
    with pytest.raises(UnsafeURLError) as caught:
        resolve_target("http://nowhere.invalid/", NOBODY, resolver_for({}))
    assert caught.value.kind == "dns"


def test_it_lets_allowed_hosts_and_ranges_through() -> None:
    resolver = resolver_for({"sim.internal": ["10.9.8.7"]})
    assert resolve_target("http://sim.internal/", Allowlist(["sim.internal"]), resolver).addresses == ("10.9.8.7",)
    assert resolve_target("http://sim.internal/", Allowlist(["10.0.0.0/8"]), resolver).addresses == ("10.9.8.7",)
    assert resolve_target("http://127.0.0.1:8001/", Allowlist(["127.0.0.1"])).addresses == ("127.0.0.1",)
    with pytest.raises(UnsafeURLError):
        resolve_target("http://sim.internal/", Allowlist(["192.168.0.0/16", "other.internal"]), resolver)


@pytest.mark.django_db
def test_it_validates_the_url_when_a_source_is_saved(settings: Any) -> None:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = []
    source = Source(slug="local", name="Local", url="http://127.0.0.1:8001/status/us-east")
    with pytest.raises(ValidationError) as caught:
        source.full_clean()
    assert "loopback" in str(caught.value.message_dict["url"])
    source.url = "ftp://127.0.0.1/"
    with pytest.raises(ValidationError):
        source.full_clean()
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    source.url = "http://127.0.0.1:8001/status/us-east"
    source.full_clean()


def test_it_checks_again_at_request_time(simulator: RunningSimulator) -> None:
    fetcher = Fetcher(FetchPolicy(allowed_private_hosts=()))
    result = fetcher.fetch(simulator.url("us-east"), timeout=2)
    assert (result.ok, result.error_kind) == (False, "forbidden_address")
    assert result.attempts == 1
    assert simulator.requests_for("us-east") == []  # refused before any connection


def test_it_connects_to_the_checked_address_without_a_second_lookup(simulator: RunningSimulator) -> None:
    lookups: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    # upstream.test exists only in this resolver: the request can only work if the connection
    # goes to the address the guard checked, with the name kept in the Host header.
    fetcher = Fetcher(FetchPolicy(allowed_private_hosts=("127.0.0.0/8",)), resolver=resolve)
    result = fetcher.fetch(f"http://upstream.test:{simulator.port}/status/eu-west?stats=1", timeout=3)
    assert result.ok, result.error_message
    assert result.payload is not None
    assert "stats" in result.payload["results"]
    assert lookups == ["upstream.test"]


def test_it_keeps_the_tls_server_name_when_connecting_to_an_address() -> None:
    adapter = PinnedAdapter()
    request = requests.Request("GET", "https://93.184.216.34:443/x", headers={"Host": "status.example.com"}).prepare()
    host_params, pool_kwargs = adapter.build_connection_pool_key_attributes(request, True)
    assert host_params["host"] == "93.184.216.34"
    assert pool_kwargs["server_hostname"] == "status.example.com"
    assert pool_kwargs["assert_hostname"] == "status.example.com"
    plain = requests.Request("GET", "http://93.184.216.34/x", headers={"Host": "status.example.com"}).prepare()
    assert "server_hostname" not in adapter.build_connection_pool_key_attributes(plain, True)[1]


@pytest.mark.parametrize(
    "location",
    ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::1]:22/", "file:///etc/passwd"],
)
def test_it_checks_every_redirect_hop(simulator: RunningSimulator, location: str) -> None:
    fetcher = Fetcher(FetchPolicy(allowed_private_hosts=("127.0.0.1",)))
    simulator.set_fault("us-east", kind="redirect", location=location)
    result = fetcher.fetch(simulator.url("us-east"), timeout=2)
    assert not result.ok
    assert result.error_kind in {"forbidden_address", "bad_scheme"}
    assert result.attempts == 1


def test_it_follows_allowed_redirects_up_to_the_limit(simulator: RunningSimulator) -> None:
    fetcher = Fetcher(FetchPolicy(allowed_private_hosts=("127.0.0.1",), max_redirects=2))
    simulator.set_fault("us-east", kind="redirect", location="/status/eu-west?stats=1")
    result = fetcher.fetch(simulator.url("us-east"), timeout=2)
    assert result.ok
    assert len(simulator.requests_for("eu-west")) == 1

    simulator.set_fault("eu-west", kind="redirect", location="/status/eu-west")  # a loop
    result = fetcher.fetch(simulator.url("eu-west"), timeout=2)
    assert (result.ok, result.error_kind) == (False, "too_many_redirects")
    assert len(simulator.requests_for("eu-west")) == 1 + 3  # the first request and two redirects
