"""Pinned metrics have one rule, the model's (``validate_pinned_metrics`` and ``Source.clean``): the admin's form,
the API and configuration files refuse the same bad value with the same words, and store nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.models import Role
from pollers.models import MAX_PINNED_METRICS, Source
from tests.factories import bearer, make_token
from tests.pollers.support import form_rows
from tests.provisioning.support import problems, text

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

PATHS = {f"m{n}": f"stats.m{n}" for n in range(MAX_PINNED_METRICS + 1)}
URL = "http://127.0.0.1:9/status"
BAD = {
    "unknown": ["m0", "nowhere"],
    "too many": list(PATHS),
}


def model_says(pinned: list[str]) -> list[str]:
    """What the model's own validation says of ``pinned``: the words every path must repeat."""
    source = Source(slug="pins", name="Pins", url=URL, metric_paths=PATHS, pinned_metrics=pinned)
    with pytest.raises(ValidationError) as refused:
        source.full_clean(validate_unique=False)
    return refused.value.message_dict["pinned_metrics"]


def admin_says(client: Client, pinned: list[str]) -> list[str]:
    posted = {
        "slug": "pins",
        "name": "Pins",
        "url": URL,
        "enabled": "on",
        "interval_seconds": 30,
        "timeout_seconds": 5,
        "tls_verify": "on",
        "pinned_metrics": "\n".join(pinned),
        **form_rows("metric_paths", PATHS),
    }
    response = client.post("/admin/pollers/source/add/", posted)
    assert response.status_code == 200, response.status_code
    return list(response.context["adminform"].form.errors["pinned_metrics"])


def api_says(client: Client, pinned: list[str]) -> list[str]:
    body = {"slug": "pins", "name": "Pins", "url": URL, "metric_paths": PATHS, "pinned_metrics": pinned}
    token = make_token("pins-admin", role=Role.ADMIN)
    response = client.post("/api/v1/sources", data=body, content_type="application/json", **bearer(token))
    assert response.status_code == 400, response.content
    return list(response.json()["error"]["details"]["fields"]["pinned_metrics"])


def config_says(pinned: list[str]) -> list[str]:
    item = {"slug": "pins", "name": "Pins", "url": URL, "metric_paths": PATHS, "pinned_metrics": pinned}
    where = " sources[0].pinned_metrics: "  # after "s.yaml:<line>:"
    found = problems({"s.yaml": text({"sources": [item]})})
    return [line.split(where, 1)[1] for line in found if where in line]


@pytest.mark.parametrize("pinned", BAD.values(), ids=BAD.keys())
def test_it_refuses_a_bad_pin_with_the_models_words_on_every_path(admin_client: Client, pinned: list[str]) -> None:
    expected = model_says(pinned)
    assert expected
    assert admin_says(admin_client, pinned) == expected
    assert api_says(admin_client, pinned) == expected
    assert config_says(pinned) == expected
    assert not Source.objects.filter(slug="pins").exists()


def test_it_judges_the_pins_against_the_paths_typed_once_those_are_right(admin_client: Client) -> None:
    # With a wrong path, the pins would be judged against the paths stored (none yet): no second error for them.
    posted: dict[str, Any] = {
        "slug": "pins",
        "name": "Pins",
        "url": URL,
        "interval_seconds": 30,
        "timeout_seconds": 5,
        "tls_verify": "on",
        "pinned_metrics": "queue",
        **form_rows("metric_paths", {"queue": "stats..queue"}),
    }
    response = admin_client.post("/admin/pollers/source/add/", posted)
    errors = response.context["adminform"].form.errors
    assert "metric_paths" in errors
    assert "pinned_metrics" not in errors
