"""examples/config/ configures the six demo regions: applied here, then a second plan finds nothing to do."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Team
from alerts.models import AlertRule, NotificationChannel
from metrics.defaults import REGIONS
from metrics.lifecycle.models import RetentionPolicy
from pollers.models import Source
from provisioning.apply import apply_files
from provisioning.document import read_directory
from provisioning.plan import make_plan
from statuspages.models import StatusPage
from tests.paths import ROOT

pytestmark = pytest.mark.django_db
ENVIRON = {"OPS_WEBHOOK_URL": "http://127.0.0.1:9/hook", "OPS_WEBHOOK_SECRET": "a-signing-key-of-24-chars"}


def test_it_applies_the_example_directory(setup_settings: Any) -> None:
    files = read_directory(ROOT / "examples" / "config")
    plan = apply_files(files, environ=ENVIRON)
    # 1 team, 6 sources, 2 channels, 4 rules, 1 status page and its 3 components, 1 retention policy; the
    # global one exists already with these values.
    assert plan.counts() == {"create": 18, "change": 0, "delete": 0}
    team = Team.objects.get(slug="platform")
    assert sorted(Source.objects.filter(team=team).values_list("slug", flat=True)) == sorted(REGIONS)
    # The URLs seed_demo makes, at the simulator's default port.
    assert Source.objects.get(slug="eu-west").url == "http://127.0.0.1:8001/status/eu-west?stats=1"
    hook = NotificationChannel.objects.get(name="platform-webhook")
    assert (hook.url, hook.secret) == (ENVIRON["OPS_WEBHOOK_URL"], ENVIRON["OPS_WEBHOOK_SECRET"])
    unreachable = AlertRule.objects.get(team=team, name="Region unreachable")
    assert sorted(c.name for c in unreachable.channels.all()) == ["platform-mail", "platform-webhook"]
    assert AlertRule.objects.get(name="EU Central error rate").source.slug == "eu-central"
    assert RetentionPolicy.objects.get(source__slug="eu-central").archive_raw is True
    page = StatusPage.objects.get(slug="demo")
    assert (page.team, page.published) == (team, True)
    europe = page.components.get(name="Europe")
    assert sorted(s.slug for s in europe.sources.all()) == ["eu-central", "eu-west"]
    assert not make_plan(files, environ=ENVIRON).has_changes
