"""examples/config/ configures the six demo regions: applied here, then a second plan finds nothing to do."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import F

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
from tests.provisioning.support import run_config

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


def test_it_takes_over_the_seeded_demo_with_the_unreachable_rules_seed_demo_gave_it(
    setup_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # seed_demo adds the six sources as a person would (Source.add), each with its "unreachable" rule in the
    # default team; the example moves the sources to its team, and each rule goes with its source.
    setup_settings.ALERTS_DEFAULT_UNREACHABLE_RULE = True
    call_command("seed_demo", stdout=StringIO())
    seeded = dict(AlertRule.objects.values_list("source__slug", "name"))
    assert sorted(seeded) == sorted(REGIONS)
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    code, _out, err = run_config("apply", "-f", str(ROOT / "examples" / "config"), "--yes")
    assert code == 0, err

    team = Team.objects.get(slug="platform")
    assert Source.objects.filter(team=team).count() == len(REGIONS)
    # No rule of one team points at another team's source: the team that lost the source would be shown its
    # slug while the rule could never fire again.
    strays = AlertRule.objects.filter(source__isnull=False).exclude(team_id=F("source__team_id"))
    assert list(strays.values_list("team__slug", "name")) == []
    followed = dict(
        AlertRule.objects.filter(team=team, kind="poll_failures", scope="source").values_list("source__slug", "name")
    )
    assert followed == seeded
    # Left out by the files, as any rule made by hand in the team: the next plan keeps them, --prune of the
    # team's alert_rules deletes them (docs/config-as-code.md).
    files = read_directory(ROOT / "examples" / "config")
    assert not make_plan(files, environ=ENVIRON).has_changes
    pruned = make_plan(files, environ=ENVIRON, prune=True)
    assert sorted(c.label for c in pruned.changes if c.action == "delete") == sorted(
        f"platform/{name}" for name in seeded.values()
    )
