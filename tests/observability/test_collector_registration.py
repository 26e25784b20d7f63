"""Apps bring their collectors to observability's registries: shared state on GET /metrics only, once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from observability import exposition


class ProbeCollector(Collector):
    def __init__(self, name: str) -> None:
        self.name = name

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(self.name, "A collector registered by a test.")
        family.add_metric([], 1)
        yield family


class SharedProbe(ProbeCollector):
    pass


class ProcessProbe(ProbeCollector):
    pass


def names(registry: object) -> list[str]:
    return [family.name for family in registry.collect()]  # type: ignore[attr-defined]


@pytest.fixture
def registered() -> Iterator[list[tuple[object, ProbeCollector]]]:
    """Collectors a test registered, taken out again so the rest of the suite scrapes as before."""
    done: list[tuple[object, ProbeCollector]] = []
    yield done
    for registry, collector in done:
        registry.unregister(collector)  # type: ignore[attr-defined]
        kind = "web" if registry is exposition.WEB_REGISTRY else "process"
        exposition._registered.discard((kind, f"{type(collector).__module__}.{type(collector).__qualname__}"))


def test_it_serves_shared_state_on_the_web_registry_only_and_once(
    registered: list[tuple[object, ProbeCollector]],
) -> None:
    first = SharedProbe("test_shared_probe_first")
    assert exposition.register_shared_state(first) is True
    registered.append((exposition.WEB_REGISTRY, first))
    # A second instance of the same collector (an AppConfig.ready run twice) is not added again.
    assert exposition.register_shared_state(SharedProbe("test_shared_probe_second")) is False
    web = names(exposition.WEB_REGISTRY)
    assert web.count("test_shared_probe_first") == 1
    assert "test_shared_probe_second" not in web
    # The poller's server serves REGISTRY: shared state there would be reported by every process.
    assert "test_shared_probe_first" not in names(REGISTRY)


def test_it_serves_a_process_collector_on_both(registered: list[tuple[object, ProbeCollector]]) -> None:
    probe = ProcessProbe("test_process_probe")
    assert exposition.register_process_collector(probe) is True
    registered.append((REGISTRY, probe))
    assert exposition.register_process_collector(ProcessProbe("test_process_probe_again")) is False
    assert names(REGISTRY).count("test_process_probe") == 1
    assert names(exposition.WEB_REGISTRY).count("test_process_probe") == 1  # the web nests REGISTRY


@pytest.mark.django_db
def test_it_has_the_apps_collectors_registered_by_their_app_configs() -> None:
    # Registered from metrics.apps, pollers.apps and alerts.apps; observability itself names no app.
    shared = {
        "devops_insights_upstream_scrape_ok",
        "devops_insights_source_state_scrape_ok",
        "devops_insights_notification_queue_scrape_ok",
    }
    web = set(names(exposition.WEB_REGISTRY))
    assert shared <= web
    assert "devops_insights_cache_requests" in web
    process = set(names(REGISTRY))
    assert "devops_insights_cache_requests" in process  # the read cache counts in the poller too
    assert not shared & process
