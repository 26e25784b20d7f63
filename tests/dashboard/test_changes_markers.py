"""The changes feed shows the deploy and change markers of its source (boards.models.Annotation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from boards.models import Annotation
from tests.factories import make_source, payload, record_history

pytestmark = pytest.mark.django_db


def test_it_lists_the_markers_of_the_source_and_its_team(user_client: Client) -> None:
    now = datetime.now(UTC)
    source, other = make_source("us-east"), make_source("eu-west")
    record_history(
        source, [(now - timedelta(minutes=10), payload()), (now - timedelta(minutes=5), payload(status="error"))]
    )
    Annotation.objects.create(
        team=source.team, source=source, at=now - timedelta(minutes=4), text="version v1 → v2", kind="auto"
    )
    Annotation.objects.create(team=source.team, source=None, at=now - timedelta(minutes=3), text="change freeze")
    Annotation.objects.create(team=other.team, source=other, at=now - timedelta(minutes=2), text="eu-west deploy")
    page = user_client.get("/sources/us-east/changes/").content.decode()
    assert "version v1 → v2" in page
    assert "change freeze" in page
    assert "eu-west deploy" not in page
    part = user_client.get("/sources/us-east/changes/?part=list").json()["html"]
    assert 'data-kind="auto"' in part


def test_it_sends_the_markers_of_the_range_with_the_drill_down_series(user_client: Client) -> None:
    now = datetime.now(UTC)
    source = make_source("us-east")
    record_history(source, [(now - timedelta(minutes=10), payload())])
    Annotation.objects.create(team=source.team, source=source, at=now - timedelta(minutes=5), text="deploy v2")
    Annotation.objects.create(team=source.team, source=source, at=now - timedelta(days=3), text="long ago")
    body = user_client.get("/sources/us-east/series.json?range=1h&metric=cpu_load").json()
    assert [a["text"] for a in body["annotations"]] == ["deploy v2"]
