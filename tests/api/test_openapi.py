"""The OpenAPI document: served, 3.1, covering every API route, open to endpoints other apps add."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client

from api import openapi
from api.urls import urlpatterns


@pytest.fixture
def restore_registry() -> Iterator[None]:
    paths, schemas = dict(openapi._EXTRA_PATHS), dict(openapi._EXTRA_SCHEMAS)
    yield
    openapi._EXTRA_PATHS.clear()
    openapi._EXTRA_PATHS.update(paths)
    openapi._EXTRA_SCHEMAS.clear()
    openapi._EXTRA_SCHEMAS.update(schemas)


def test_it_serves_an_openapi_31_document(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert client.get("/api/v1/openapi.json", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_it_documents_every_api_route() -> None:
    documented = set(openapi.openapi_document()["paths"])
    routes = {"/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(p.pattern)) for p in urlpatterns}
    assert routes - documented == set()
    assert "/api/v1/health" in documented


def test_it_documents_paths_other_apps_register(client: Client, restore_registry: None) -> None:
    openapi.register_paths(
        {"/api/v1/alerts": {"get": {"operationId": "listAlerts", "responses": {"200": {"description": "x"}}}}},
        schemas={"Alert": {"type": "object"}},
    )
    document = client.get("/api/v1/openapi.json").json()
    assert document["paths"]["/api/v1/alerts"]["get"]["operationId"] == "listAlerts"
    assert document["components"]["schemas"]["Alert"] == {"type": "object"}
    assert "/api/v1/sources" in document["paths"]
