from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
def test_it_answers_liveness_without_touching_dependencies(client: Client, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    with django_assert_num_queries(0):
        response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_it_refuses_other_methods_on_liveness(client: Client) -> None:
    assert client.post("/api/v1/health").status_code == 405
