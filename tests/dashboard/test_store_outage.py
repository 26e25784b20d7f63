"""A metric store that does not answer: pages say so and still render; scripts get a 503, never a 500.

The outage is real: a MongoDB store pointed at a port where nothing listens.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from pymongo import MongoClient

from dashboard.views import overview as overview_view
from dashboard.views import sources as sources_view
from dashboard.views import system as system_view
from metrics.stores.mongo import MongoMetricStore
from tests import services
from tests.factories import make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[MongoMetricStore]:
    client: MongoClient[dict[str, Any]] = MongoClient(
        f"mongodb://127.0.0.1:{services.free_port()}/?directConnection=true",
        serverSelectionTimeoutMS=200,
        connectTimeoutMS=200,
    )
    store = MongoMetricStore(client, "nowhere")
    for module in (overview_view, sources_view, system_view):
        monkeypatch.setattr(module, "get_store", lambda: store)
    yield store
    client.close()


def test_it_renders_every_page_with_a_notice_when_the_store_is_down(staff_client: Client, dead_store: Any) -> None:
    make_source("us-east")
    overview = staff_client.get("/")
    assert overview.status_code == 200
    assert "The metric store did not answer" in overview.content.decode()
    assert 'data-source="us-east"' in overview.content.decode()

    detail = staff_client.get("/sources/us-east/")
    assert detail.status_code == 200
    assert "The metric store did not answer" in detail.content.decode()

    changes = staff_client.get("/sources/us-east/changes/")
    assert changes.status_code == 503
    assert "Store unavailable" in changes.content.decode()

    system = staff_client.get("/system/")
    assert system.status_code == 200
    assert "unavailable (" in system.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/overview/cards.json",
        "/overview/sparklines.json",
        "/sources/us-east/series.json",
        "/sources/us-east/latest.json",
    ],
)
def test_it_answers_503_json_to_scripts_when_the_store_is_down(
    staff_client: Client, dead_store: Any, path: str
) -> None:
    make_source("us-east")
    response = staff_client.get(path)
    assert response.status_code == 503
    assert response.json() == {"error": "metric store unavailable"}
