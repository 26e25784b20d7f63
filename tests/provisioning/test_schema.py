"""The JSON Schema: generated from the sections, committed in docs/, served by the API, and in step with the plan."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from django.test import Client
from jsonschema import Draft202012Validator

from provisioning.document import read_directory
from provisioning.schema import config_schema, schema_text
from tests.paths import ROOT

COMMITTED = ROOT / "docs" / "config-schema.json"


def test_it_keeps_the_committed_schema_equal_to_the_generated_one() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == schema_text(), (
        "docs/config-schema.json is stale: regenerate it with "
        '`python -c \'import django,os; os.environ["DJANGO_SETTINGS_MODULE"]="devops_insights.settings"; '
        'django.setup(); from provisioning.schema import schema_text; print(schema_text(), end="")\' '
        "> docs/config-schema.json`"
    )


def test_it_is_a_valid_draft_2020_12_schema_that_accepts_the_examples() -> None:
    schema = config_schema()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for name, body in read_directory(ROOT / "examples" / "config").items():
        errors = [error.message for error in validator.iter_errors(yaml.safe_load(body))]
        assert not errors, (name, errors)


def test_it_refuses_what_the_plan_refuses() -> None:
    validator = Draft202012Validator(config_schema())
    bad = {
        "sources": [{"slug": "a", "name": "A", "url": "http://x", "interval": 2, "colour": "blue"}],
        "channels": [{"name": "hook", "kind": "webhook", "secret": "plain"}],
        "extra": 1,
    }
    messages = sorted(error.message for error in validator.iter_errors(bad))
    assert any("'colour' was unexpected" in m for m in messages)
    assert any("'extra' was unexpected" in m for m in messages)
    assert any("2 is less than the minimum of 5" in m for m in messages)
    assert any("'plain' is not valid under any of the given schemas" in m for m in messages)


@pytest.mark.django_db
def test_it_serves_the_schema_publicly(client: Client) -> None:
    response = client.get("/api/v1/config/schema.json")
    assert response.status_code == 200
    served: Any = response.json()
    assert served == json.loads(COMMITTED.read_text(encoding="utf-8"))
