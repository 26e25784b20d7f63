"""Allowlist entries with a port, the demo stack's allowlist, and the simulator's control API out of reach.

Reproduces issue 14 finding 7: ``runstack`` allowlisted every port of 127.0.0.1, so a staff user
could save sources and webhooks aimed at 127.0.0.1:6379, and a redirect to the simulator's
``/_control/`` API was followed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.exceptions import ValidationError

from alerts.models import NotificationChannel
from devops_insights.management.commands.runstack import demo_allowlist
from pollers.fetch import Fetcher, FetchPolicy
from pollers.models import Source
from pollers.ssrf import Allowlist, UnsafeURLError, is_control_path, resolve_target
from tests.run_manage import assert_one_line_error, run_manage
from tests.simulator import RunningSimulator


def names(answers: dict[str, list[str]]) -> Any:
    def resolve(host: str, port: int) -> list[str]:
        return answers[host]

    return resolve


@pytest.mark.parametrize(
    ("entry", "allowed", "refused"),
    [
        ("127.0.0.1:8001", "http://127.0.0.1:8001/status", "http://127.0.0.1:6379/"),
        ("[::1]:8001", "http://[::1]:8001/status", "http://[::1]:8002/"),
        ("10.0.0.0/8", "http://10.1.2.3:6379/", "http://192.168.0.1/"),  # a CIDR: every port, as before
        ("127.0.0.1", "http://127.0.0.1:6379/", "http://127.0.0.2/"),  # a bare address: every port, as before
    ],
)
def test_it_allows_an_entry_on_its_port_only(entry: str, allowed: str, refused: str) -> None:
    allowlist = Allowlist([entry])
    assert resolve_target(allowed, allowlist).addresses
    with pytest.raises(UnsafeURLError) as caught:
        resolve_target(refused, allowlist)
    assert caught.value.kind == "forbidden_address"


def test_it_allows_a_host_name_on_its_port_only() -> None:
    allowlist = Allowlist(["simulator:8001"])
    resolver = names({"simulator": ["172.18.0.5"]})
    assert resolve_target("http://simulator:8001/status/us-east", allowlist, resolver).addresses == ("172.18.0.5",)
    with pytest.raises(UnsafeURLError, match="private address"):
        resolve_target("http://simulator:5432/", allowlist, resolver)


def test_it_lets_the_demo_stack_reach_the_simulator_port_and_nothing_else_on_loopback() -> None:
    entries = demo_allowlist(["metrics.internal"], 8001)
    assert entries == ["127.0.0.1:8001", "metrics.internal"]
    allowlist = Allowlist(entries)
    assert resolve_target("http://127.0.0.1:8001/status/us-east?stats=1", allowlist)
    for port in (6379, 5432, 8000):
        with pytest.raises(UnsafeURLError):
            resolve_target(f"http://127.0.0.1:{port}/", allowlist)


@pytest.mark.django_db
def test_it_refuses_to_save_a_source_or_webhook_aimed_at_redis_with_the_demo_allowlist(settings: Any) -> None:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = demo_allowlist([], 8001)
    Source(slug="demo", name="demo", url="http://127.0.0.1:8001/status/us-east").full_clean()
    with pytest.raises(ValidationError) as caught:
        Source(slug="redis", name="redis", url="http://127.0.0.1:6379/").full_clean()
    assert "loopback" in " ".join(caught.value.message_dict["url"])
    channel = NotificationChannel(
        name="redis", kind=NotificationChannel.Kind.WEBHOOK, url="http://127.0.0.1:6379/", secret="s" * 20
    )
    with pytest.raises(ValidationError) as caught:
        channel.full_clean()
    assert "loopback" in " ".join(caught.value.message_dict["url"])


@pytest.mark.parametrize(
    "path",
    [
        "/_control/requests",
        "/_control",
        "/%5Fcontrol/requests",
        "/%255Fcontrol/x",
        "/status/../_control/requests",
        "//_control/requests",
        "/_CONTROL/reset",
    ],
)
def test_it_recognises_the_control_path_however_it_is_spelled(path: str) -> None:
    assert is_control_path(path)


@pytest.mark.parametrize("path", ["/status/us-east", "/_controlled", "/status/_control"])
def test_it_leaves_other_paths_alone(path: str) -> None:
    assert not is_control_path(path)


def test_it_refuses_to_save_a_source_on_the_control_api_of_an_allowlisted_simulator() -> None:
    with pytest.raises(UnsafeURLError, match="control API"):
        resolve_target("http://127.0.0.1:8001/_control/requests", Allowlist(["127.0.0.1:8001"]))


@pytest.mark.parametrize("location", ["/_control/requests", "/%5Fcontrol/requests", "/status/../_control/requests"])
def test_it_does_not_follow_a_redirect_to_the_simulators_control_api(
    simulator: RunningSimulator, location: str
) -> None:
    fetcher = Fetcher(FetchPolicy(allowed_private_hosts=(f"127.0.0.1:{simulator.port}",), retries=0))
    try:
        # The status document is reachable through the port entry; the control API is not.
        assert fetcher.fetch(simulator.url("us-east"), timeout=3).ok
        target = quote(f"{simulator.base_url}{location}", safe=":/")
        result = fetcher.fetch(simulator.url("us-east", f"fault=redirect&location={target}"), timeout=3)
    finally:
        fetcher.close()
    assert (result.ok, result.error_kind) == (False, "forbidden_address")
    assert "control API" in result.error_message


def test_it_refuses_an_allowlist_port_out_of_range_at_start(tmp_path: Path) -> None:
    result = run_manage("check", env={"POLLER_ALLOWED_PRIVATE_HOSTS": "127.0.0.1:70000"}, tmp_path=tmp_path)
    assert_one_line_error(result, "POLLER_ALLOWED_PRIVATE_HOSTS", "the port must be from 1 to 65535")
