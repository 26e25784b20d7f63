"""Stored objects sharing a natural key: export and plan refuse them by name instead of keeping one of them.

The database holds every section's key unique now (silences' since alerts 0009), so these tests make twins
where it does not: a database whose constraint is gone (restored without it, say), the constraint dropped for
the test (undone with the test's transaction)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from alerts.models import Silence
from provisioning.export import SharedKeys, export_files
from provisioning.plan import make_plan
from tests.factories import make_source, make_team
from tests.provisioning.support import problems, text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reasons_not_held_unique() -> None:
    with connection.cursor() as cursor:
        cursor.execute('DROP INDEX "one_silence_reason_per_team"')


def _silences(*reasons: str, team: str = "blue") -> list[Silence]:
    owner = make_team(team)
    source = make_source(f"{team}-east", team=owner)
    start = timezone.now()
    end = start + timedelta(hours=1)
    return [
        Silence.objects.create(team=owner, source=source, reason=reason, starts_at=start, ends_at=end)
        for reason in reasons
    ]


def _export(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("config", "export", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_it_refuses_to_export_silences_sharing_a_reason_and_names_them() -> None:
    first, second, _other = _silences("deploy", "deploy", "other")
    with pytest.raises(SharedKeys) as raised:
        export_files()
    assert raised.value.problems == [
        f"silences: 2 stored objects share the key blue/deploy (team + reason; ids {first.pk}, {second.pk}): a file "
        "names one object per key, so the files cannot describe them all; rename all but one so that each has its "
        "own reason (e.g. in the admin), then try again"
    ]

    code, out, err = _export()
    assert code == 1
    assert out == ""  # nothing is exported, rather than an export without one of them
    assert f"silences: 2 stored objects share the key blue/deploy (team + reason; ids {first.pk}, {second.pk})" in err
    assert err.endswith("1 problem(s): nothing was exported.\n")

    # Another team's export does not hold them; renamed, the whole export has both.
    make_team("green")
    assert _export("--team", "green")[0] == 0
    Silence.objects.filter(pk=second.pk).update(reason="deploy (2)")
    exported = export_files()["silences.yaml"]
    assert "reason: deploy\n" in exported
    assert "reason: deploy (2)\n" in exported


def test_it_plans_a_problem_for_silences_sharing_a_reason_where_the_files_speak_for_them() -> None:
    first, second = _silences("deploy", "deploy")
    _silences(team="green")
    shared = f"2 stored objects share the key blue/deploy (team + reason; ids {first.pk}, {second.pk})"

    # An empty list for the team: --prune would delete one of them, and planned "no changes" before.
    emptied = {"s.yaml": text({"teams": [{"slug": "blue", "name": "Blue"}], "silences": []})}
    for prune in (False, True):
        assert problems(emptied, prune=prune) == [f"s.yaml:4: silences: {shared}" + _tail()]

    # An item naming the key: which of them would it change?
    item = {
        "team": "blue",
        "reason": "deploy",
        "source": "blue-east",
        "starts_at": first.starts_at.isoformat(),
        "ends_at": first.ends_at.isoformat(),
    }
    named = problems({"s.yaml": text({"silences": [item]})})
    assert named == [f"s.yaml:3: silences[0].reason: {shared}" + _tail()]

    # Files that do not name silences, or speak for another team only, say nothing of them.
    assert not make_plan({"t.yaml": text({"teams": [{"slug": "blue", "name": "Blue"}]})}).has_changes
    assert not make_plan({"s.yaml": text({"teams": [{"slug": "green", "name": "Green"}], "silences": []})}).has_changes


def _tail() -> str:
    return (
        ": a file names one object per key, so the files cannot describe them all; rename all but one so that "
        "each has its own reason (e.g. in the admin), then try again"
    )
