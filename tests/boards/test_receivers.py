"""Deploy markers: a real poll of the simulator after a region's build changes records one annotation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from boards.models import Annotation
from boards.receivers import describe, watched
from metrics.stores.base import FieldChange
from pollers.engine import Poller
from tests.factories import make_poller, make_source
from tests.simulator import RunningSimulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def poller() -> Iterator[Poller]:
    poller = make_poller(failure_threshold=1000, cooldown=600)
    yield poller
    poller.fetcher.close()


def test_it_records_a_deploy_marker_when_the_version_changes(
    simulator: RunningSimulator, poller: Poller, allow_loopback: Any
) -> None:
    source = make_source("eu-west", url=simulator.url("eu-west"), timeout_seconds=2.0)
    assert poller.poll(source).ok
    simulator.advance(1)  # another window: the document changes, its version does not
    assert poller.poll(source).ok
    assert not Annotation.objects.exists()
    simulator.deploy("eu-west", "v2.6.15")
    simulator.advance(1)
    assert poller.poll(source).ok
    [marker] = Annotation.objects.all()
    assert (marker.source, marker.team_id, marker.kind, marker.tags) == (source, source.team_id, "auto", ["deploy"])
    assert marker.text.startswith("version v2.")
    assert marker.text.endswith("→ v2.6.15")


def test_it_watches_the_configured_paths_only(settings: Any) -> None:
    changes = [
        FieldChange("results.stats.online", 1, 2, "changed"),
        FieldChange("results.deployment.last_deployment", "a", "b", "changed"),
    ]
    assert watched(changes, ["version", "results.deployment.*"]) == changes[1:]
    assert watched(changes, []) == []
    assert describe([FieldChange("version", None, "x" * 100, "added")]).startswith("version — → xxx")
