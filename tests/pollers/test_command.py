"""``manage.py poll`` run once: summary table, exit status, --source, --dry-run, argument errors."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from boards.models import Annotation
from metrics.stores import get_store
from pollers.models import Source
from tests.factories import make_source
from tests.simulator import RunningSimulator

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def poller_settings(settings: Any) -> Any:
    settings.POLLER_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    settings.POLLER_RETRIES = 0
    settings.REDIS_URL = None
    return settings


@pytest.fixture
def sources(simulator: RunningSimulator) -> list[Source]:
    return [
        make_source(region, url=simulator.url(region), timeout_seconds=1.0)
        for region in ("us-east", "eu-west", "sa-east")
    ]


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("poll", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_polls_every_enabled_source_once_and_prints_a_summary(
    simulator: RunningSimulator, sources: list[Source]
) -> None:
    Source.objects.filter(slug="sa-east").update(enabled=False)
    out, _ = run()
    lines = out.splitlines()
    assert lines[0].split() == ["SOURCE", "STATUS", "LATENCY", "CHANGED", "ATTEMPTS"]
    assert [line.split()[0] for line in lines[1:]] == ["eu-west", "us-east"]
    assert all(line.split()[1] == "ok" and " ms " in line and "yes" in line for line in lines[1:])
    assert set(get_store().latest_all()) == {"us-east", "eu-west"}
    assert simulator.requests_for("sa-east") == []

    out, _ = run()
    assert all(line.split()[-2] == "no" for line in out.splitlines()[1:])  # same window: unchanged


def test_it_leaves_the_deploy_markers_of_its_polls_written(simulator: RunningSimulator, sources: list[Source]) -> None:
    run("--source", "eu-west")  # the first document
    simulator.deploy("eu-west", "v2.6.15")
    simulator.advance(1)
    run("--source", "eu-west")  # the poller's batch held the marker; the end of the cycle flushed it
    [marker] = Annotation.objects.all()
    assert (marker.source.slug, marker.kind, marker.tags) == ("eu-west", "auto", ["deploy"])
    assert marker.text.endswith("→ v2.6.15")


def test_it_exits_non_zero_when_a_poll_fails(simulator: RunningSimulator, sources: list[Source]) -> None:
    simulator.set_fault("eu-west", kind="error", status=503)
    out = StringIO()
    err = StringIO()
    with pytest.raises(CommandError, match="1 of 3 polls failed: eu-west") as caught:
        call_command("poll", stdout=out, stderr=err)
    assert caught.value.returncode == 1
    row = next(line for line in out.getvalue().splitlines() if line.startswith("eu-west"))
    assert "FAILED http_503" in row
    assert "eu-west: 127.0.0.1 answered HTTP 503" in err.getvalue()
    assert get_store().latest("eu-west") is None
    assert get_store().latest("us-east") is not None


def test_it_polls_only_the_named_sources(simulator: RunningSimulator, sources: list[Source]) -> None:
    Source.objects.filter(slug="sa-east").update(enabled=False)
    out, _ = run("--source", "us-east", "--source", "sa-east")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["sa-east", "us-east"]
    assert simulator.requests_for("eu-west") == []
    with pytest.raises(CommandError, match="unknown source: nope"):
        run("--source", "nope")


def test_it_prints_without_storing_on_a_dry_run(simulator: RunningSimulator, sources: list[Source]) -> None:
    out, _ = run("--dry-run", "--source", "us-east")
    assert "us-east: hash " in out
    assert '"cpu_load":' in out
    assert get_store().latest("us-east") is None
    assert Source.objects.get(slug="us-east").last_polled_at is None


def test_it_refuses_bad_arguments(sources: list[Source]) -> None:
    with pytest.raises(CommandError, match="concurrency"):
        run("--concurrency", "0")
    with pytest.raises(CommandError, match="dry-run"):
        run("--loop", "--dry-run")


def test_it_says_so_when_there_is_nothing_to_poll() -> None:
    out, _ = run()
    assert "no enabled sources" in out


def test_it_settles_the_collector_for_a_poller_before_its_first_poll(
    simulator: RunningSimulator, sources: list[Source], monkeypatch: pytest.MonkeyPatch
) -> None:
    from devops_insights import collector
    from pollers.management.commands import poll as command

    settled: list[tuple[Any, int]] = []
    monkeypatch.setattr(
        command,
        "settle_collector",
        lambda thresholds: settled.append((thresholds, len(simulator.requests_for("us-east")))),
    )
    run("--source", "us-east")
    assert settled == [(collector.POLLER, 0)]  # once, with the poller's thresholds, before any request upstream
    assert simulator.requests_for("us-east")


def test_it_installs_the_stack_dump_before_its_first_poll(
    simulator: RunningSimulator, sources: list[Source], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pollers.management.commands import poll as command

    installed: list[int] = []
    monkeypatch.setattr(command, "install_stack_dump", lambda: installed.append(len(simulator.requests_for("us-east"))))
    run("--source", "us-east")
    assert installed == [0]  # once, before any request upstream: a poll stuck from the first one can be seen
    assert simulator.requests_for("us-east")
