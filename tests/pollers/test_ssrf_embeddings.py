"""The SSRF guard sees through IPv6 forms that wrap an IPv4 address: 6to4, Teredo, NAT64, and the rest.

Reproduces issue 14 finding 4: ``http://[2002:a9fe:a9fe::]/latest/meta-data/`` (169.254.169.254
through 6to4) was saved as a source and as a webhook URL with an empty allowlist.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from alerts.models import NotificationChannel
from pollers.fetch import Fetcher, FetchPolicy
from pollers.models import Source
from pollers.ssrf import Allowlist, UnsafeURLError, embedded_ipv4, resolve_target
from tests.simulator import RunningSimulator

NOBODY = Allowlist([])

# (URL host, what it wraps, words of the refusal)
WRAPPED = [
    ("[2002:a9fe:a9fe::]", "169.254.169.254", "cloud metadata address (169.254.169.254) in 6to4 form"),
    ("[2002:7f00:1::]", "127.0.0.1", "loopback address (127.0.0.1) in 6to4 form"),
    ("[2002:0a00:0001::1]", "10.0.0.1", "private address (10.0.0.1) in 6to4 form"),
    # Teredo: the client address is stored inverted (80ff:fffe is ~127.0.0.1).
    ("[2001:0:4136:e378:8000:63bf:80ff:fffe]", "127.0.0.1", "loopback address (127.0.0.1) in Teredo form"),
    ("[2001:0:a9fe:a9fe::1]", "169.254.169.254", "(169.254.169.254) in Teredo form"),
    ("[64:ff9b::7f00:1]", "127.0.0.1", "loopback address (127.0.0.1) in NAT64 form"),
    ("[64:ff9b::a9fe:a9fe]", "169.254.169.254", "cloud metadata address (169.254.169.254) in NAT64 form"),
    ("[::7f00:1]", "127.0.0.1", "loopback address (127.0.0.1) in IPv4-compatible form"),
    ("[::a9fe:a9fe]", "169.254.169.254", "(169.254.169.254) in IPv4-compatible form"),
    ("[::ffff:7f00:1]", "127.0.0.1", "loopback address (127.0.0.1) in IPv4-mapped form"),
    ("[::ffff:169.254.169.254]", "169.254.169.254", "(169.254.169.254) in IPv4-mapped form"),
    ("[::ffff:0:7f00:1]", "127.0.0.1", "loopback address (127.0.0.1) in IPv4-translated form"),
    ("[2600::5efe:7f00:1]", "127.0.0.1", "loopback address (127.0.0.1) in ISATAP form"),
    ("[2600::200:5efe:a00:1]", "10.0.0.1", "private address (10.0.0.1) in ISATAP form"),
]


@pytest.mark.parametrize(("host", "wrapped", "words"), WRAPPED)
def test_it_refuses_every_ipv6_form_wrapping_a_forbidden_ipv4(host: str, wrapped: str, words: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        resolve_target(f"http://{host}/latest/meta-data/", NOBODY)
    assert caught.value.kind == "forbidden_address"
    assert words in str(caught.value)


def test_it_refuses_the_local_use_nat64_prefix_whatever_it_wraps() -> None:
    # 64:ff9b:1::/48 places the IPv4 address according to a prefix length only the network knows.
    with pytest.raises(UnsafeURLError, match="local-use NAT64"):
        resolve_target("http://[64:ff9b:1::808:808]/", NOBODY)


def test_it_refuses_a_name_whose_aaaa_answer_wraps_a_forbidden_address() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["2002:a9fe:a9fe::"]

    with pytest.raises(UnsafeURLError, match=r"resolves to 2002:a9fe:a9fe::, a cloud metadata address"):
        resolve_target("http://innocent.example/", NOBODY, resolver)


@pytest.mark.parametrize("host", ["[2002:808:808::1]", "[2606:4700::1111]", "8.8.8.8"])
def test_it_still_allows_public_addresses_and_6to4_of_a_public_one(host: str) -> None:
    assert resolve_target(f"http://{host}/status", NOBODY).addresses


def test_it_names_the_wrapped_addresses() -> None:
    import ipaddress

    assert embedded_ipv4(ipaddress.ip_address("127.0.0.1")) == []
    assert embedded_ipv4(ipaddress.ip_address("::1")) == []
    assert [(form, str(v4)) for form, v4 in embedded_ipv4(ipaddress.ip_address("2002:a9fe:a9fe::"))] == [
        ("6to4", "169.254.169.254")
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["http://[2002:a9fe:a9fe::]/latest/meta-data/", "http://[2002:7f00:1::]:6379/"])
def test_it_refuses_to_save_such_a_source_or_webhook(url: str, settings: Any) -> None:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = []
    source = Source(slug="probe", name="probe", url=url)
    with pytest.raises(ValidationError) as caught:
        source.full_clean()
    assert "in 6to4 form" in " ".join(caught.value.message_dict["url"])

    channel = NotificationChannel(
        name="probe", kind=NotificationChannel.Kind.WEBHOOK, url=url, secret="a-signing-secret-long-enough"
    )
    with pytest.raises(ValidationError) as caught:
        channel.full_clean()
    assert "in 6to4 form" in " ".join(caught.value.message_dict["url"])


def test_it_refuses_a_redirect_hop_to_a_6to4_loopback_over_real_http(simulator: RunningSimulator) -> None:
    # The simulator itself is allowed (its port); the hop it redirects to wraps loopback in 6to4.
    fetcher = Fetcher(FetchPolicy(allowed_private_hosts=(f"127.0.0.1:{simulator.port}",), retries=0))
    try:
        hop = f"http://[2002:7f00:1::]:{simulator.port}/status/us-east"
        result = fetcher.fetch(simulator.url("us-east", f"fault=redirect&location={hop}"), timeout=3)
    finally:
        fetcher.close()
    assert (result.ok, result.error_kind) == (False, "forbidden_address")
    assert "in 6to4 form" in result.error_message
