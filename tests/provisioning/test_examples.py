"""examples/config/ configures the six demo regions: applied here, then a second plan finds nothing to do."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Team
from alerts.models import AlertRule, NotificationChannel
from boards.models import Board
from metrics.defaults import REGIONS
from metrics.lifecycle.models import RetentionPolicy
from objectives.models import Objective
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
    # 1 team, 6 sources, 2 channels, 2 objectives, 6 rules, 1 status page, its 3 components and 1 maintenance
    # window, 1 board, 1 retention policy; the global one exists already with these values.
    assert plan.counts() == {"create": 24, "change": 0, "delete": 0}
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
    burning = AlertRule.objects.get(name="Availability budget burning")
    assert burning.objective == Objective.objects.get(team=team, name="Demo availability")
    window = page.maintenance_windows.get()
    assert sorted(s.source.slug for s in window.silences.all()) == ["eu-central", "eu-west"]
    assert Board.objects.get(slug="demo-regions").document()["panels"][1]["sources"] == ["tag:demo"]
    assert not make_plan(files, environ=ENVIRON).has_changes
