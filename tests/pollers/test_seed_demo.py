"""``manage.py seed_demo``: the six demo sources, idempotently."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from metrics.defaults import DEFAULT_METRIC_PATHS, REGIONS
from pollers.models import Source

pytestmark = pytest.mark.django_db


def test_it_creates_the_six_demo_sources_once_and_repoints_them() -> None:
    out = StringIO()
    call_command("seed_demo", simulator_port=18001, stdout=out)
    assert "6 created" in out.getvalue()
    sources = {s.slug: s for s in Source.objects.all()}
    assert set(sources) == set(REGIONS)
    assert sources["eu-west"].url == "http://127.0.0.1:18001/status/eu-west?stats=1"
    assert sources["eu-west"].metric_paths == DEFAULT_METRIC_PATHS
    assert all(s.enabled and s.region == s.slug for s in sources.values())

    Source.objects.filter(slug="us-east").update(name="Renamed by an admin", interval_seconds=60)
    out = StringIO()
    call_command("seed_demo", simulator_port=18001, stdout=out)
    assert "0 created, 0 repointed, 6 unchanged" in out.getvalue()
    assert Source.objects.get(slug="us-east").name == "Renamed by an admin"  # edits are kept

    call_command("seed_demo", "--simulator-port", "18002", stdout=StringIO())
    assert Source.objects.count() == 6
    assert Source.objects.get(slug="us-east").url == "http://127.0.0.1:18002/status/us-east?stats=1"
    assert Source.objects.get(slug="us-east").interval_seconds == 60

    call_command("seed_demo", "--simulator-host", "simulator", "--simulator-port", "8001", stdout=StringIO())
    assert Source.objects.get(slug="sa-east").url == "http://simulator:8001/status/sa-east?stats=1"


def test_it_refuses_a_host_that_is_not_a_host() -> None:
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="bare host"):
        call_command("seed_demo", "--simulator-host", "evil.example/x?", stdout=StringIO())
    assert not Source.objects.exists()


def test_it_announces_each_source_it_creates_and_none_it_finds(announced: list[Any]) -> None:
    call_command("seed_demo", simulator_port=18001, stdout=StringIO())
    assert sorted(slug for slug, _pk, _team in announced) == sorted(REGIONS)
    assert all(pk is not None for _slug, pk, _team in announced)  # announced stored: rules can point at it

    announced.clear()
    Source.objects.get(slug="us-east").delete()
    call_command("seed_demo", "--simulator-port", "18002", stdout=StringIO())  # repoints the five it finds
    assert [slug for slug, _pk, _team in announced] == ["us-east"]
