"""Configuration as code gives a source it creates no rule its files do not declare: not the default
"unreachable" rule a source added from the dashboard, the API or seed_demo gets (ALERTS_DEFAULT_UNREACHABLE_RULE),
so an apply stores what the files say and the next plan, even with --prune, finds nothing to do."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.models import AlertRule
from pollers.models import Source
from provisioning.apply import apply_files
from provisioning.plan import make_plan
from tests.provisioning.support import text

pytestmark = pytest.mark.django_db


def test_it_adds_no_default_rule_to_a_source_it_creates(setup_settings: Any) -> None:
    setup_settings.ALERTS_DEFAULT_UNREACHABLE_RULE = True
    files = {
        "setup.yaml": text(
            {
                "version": 1,
                "sources": [{"slug": "payments", "name": "Payments", "url": "http://127.0.0.1:9/status"}],
                "alert_rules": [{"name": "payments down", "source": "payments", "kind": "poll_failures", "count": 5}],
            }
        )
    }
    plan = apply_files(files, prune=True)
    assert plan.counts() == {"create": 2, "change": 0, "delete": 0}
    source = Source.objects.get(slug="payments")
    assert list(AlertRule.objects.values_list("name", flat=True)) == ["payments down"]  # only what the files say
    assert AlertRule.objects.get().source == source
    assert not make_plan(files, prune=True).has_changes  # reproducible: nothing of its own to prune
