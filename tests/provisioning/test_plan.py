"""Plan and apply: the round trip, what a plan says, every problem at once, secrets, prune and adoption."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group

from accounts.models import AuditEvent, Role, Team
from alerts.models import AlertRule, NotificationChannel, Silence
from boards.models import Board
from metrics.lifecycle.models import RetentionPolicy
from objectives.models import Objective
from pollers.models import Source
from provisioning.apply import Conflict, apply_files
from provisioning.export import export_files
from provisioning.models import Flag
from provisioning.plan import make_plan
from provisioning.problems import ConfigInvalid
from statuspages.models import Component, MaintenanceWindow, StatusPage
from tests.alerts.support import make_channel, make_rule
from tests.factories import add_member, make_board, make_objective, make_source, make_team, make_user
from tests.provisioning.support import counts, problems, text

pytestmark = pytest.mark.django_db
SECRET_VALUE = "s3cr3t-value-never-shown"


def build_setup() -> None:
    """A bit of everything the files describe, made by hand."""
    blue = make_team("blue")
    grace = make_user("grace")
    group = Group.objects.create(name="beta-testers")
    add_member(grace, blue, Role.ADMIN)
    source = make_source(
        "us-east",
        team=blue,
        url="http://127.0.0.1:8001/status/us-east?stats=1",
        tags=["demo", "americas"],
        headers={"X-Api-Key": "k-1", "Accept-Language": "en"},
        auth_scheme="bearer",
        interval_seconds=60,
    )
    source.set_auth_secret("token-1")
    source.save()
    make_source("eu-west", url="http://127.0.0.1:8001/status/eu-west?stats=1", volatile_paths=["generated_at"])
    mail = make_channel(name="ops-mail", team=blue, kind="email", email_to="ops@example.com")
    hook = make_channel(name="ops-hook", team=blue, kind="webhook", url="http://127.0.0.1:9/hook", secret="x" * 20)
    make_rule(name="cpu high", team=blue, metric="cpu_load", operator=">", threshold=90.0, channels=[mail, hook])
    make_rule(
        name="eu failing",
        kind="poll_failures",
        metric="",
        operator="",
        threshold=None,
        count=3,
        scope="source",
        source=Source.objects.get(slug="eu-west"),
    )
    Silence.objects.create(
        team=blue,
        tag="demo",
        reason="deploy window",
        starts_at=datetime(2030, 1, 1, 10, tzinfo=UTC),
        ends_at=datetime(2030, 1, 1, 12, tzinfo=UTC),
    )
    RetentionPolicy.objects.update_or_create(source=None, defaults={"raw_days": 10})
    RetentionPolicy.objects.create(source=source, raw_days=3, minute_days=3, hour_days=30)
    page = StatusPage.objects.create(team=blue, slug="blue-status", title="Blue status", published=True)
    component = Component.objects.create(page=page, name="API", order=2)
    component.sources.set([source])
    window = MaintenanceWindow.objects.create(
        page=page,
        title="Database upgrade",
        body="Reads stay up.",
        starts_at=datetime(2030, 2, 1, 22, tzinfo=UTC),
        ends_at=datetime(2030, 2, 2, 1, 30, tzinfo=UTC),
    )
    window.components.set([component])  # keeps a silence for us-east: not a silence of the files
    budget = make_objective("api availability", team=blue, sources=[source], target=Decimal("99.5"))
    make_objective("fast answers", team=blue, tag="demo", kind="metric", metric="wait_time", operator="<", bound=250.0)
    make_rule(
        name="budget burning",
        team=blue,
        kind="burn_rate",
        metric="",
        operator="",
        threshold=None,
        objective=budget,
        burn_conditions=[["1h", "5m", 14.4, "page"], ["3d", "6h", 1, "ticket"]],
    )
    make_rule(
        name="wait anomalous",
        team=blue,
        kind="anomaly",
        metric="wait_time",
        operator="",
        threshold=None,
        anomaly_mode="both",
        sensitivity=4.5,
    )
    make_board("Blue waits", team=blue, slug="blue-waits", refresh=30, variables=[{"name": "region", "kind": "region"}])
    flag = Flag.objects.create(name="beta_page", percent=12.5, note="the beta page")
    flag.users.set([grace])
    flag.groups.set([group])
    flag.teams.set([blue])


def wipe() -> None:
    for model in (
        Board,
        AlertRule,
        Silence,
        NotificationChannel,
        RetentionPolicy,
        StatusPage,
        Objective,
        Source,
        Flag,
        Team,
    ):
        model.objects.all().delete()


def placeholders(files: dict[str, str]) -> dict[str, str]:
    names = {name for body in files.values() for name in re.findall(r"\$\{([A-Z0-9_]+)\}", body)}
    return {
        name: "http://127.0.0.1:9/hook" if name.endswith("_URL") else f"value-of-{name.lower()}-0123456789"
        for name in names
    }


def test_it_round_trips_export_apply_on_an_empty_database_export_byte_identical(setup_settings: Any) -> None:
    build_setup()
    first = export_files()
    environ = placeholders(first)
    assert set(environ) == {
        "SOURCE_US_EAST_AUTH_SECRET",
        "SOURCE_US_EAST_HEADER_X_API_KEY",
        "CHANNEL_OPS_HOOK_URL",
        "CHANNEL_OPS_HOOK_SECRET",
    }
    assert "token-1" not in "".join(first.values())
    assert "k-1" not in "".join(first.values())

    wipe()
    plan = apply_files(first, environ=environ)
    assert plan.counts()["create"] > 10

    assert export_files() == first
    assert not make_plan(first, environ=environ).has_changes
    source = Source.objects.get(slug="us-east")
    assert source.headers["X-Api-Key"] == environ["SOURCE_US_EAST_HEADER_X_API_KEY"]
    assert sorted(c.name for c in AlertRule.objects.get(name="cpu high").channels.all()) == ["ops-hook", "ops-mail"]
    assert Flag.objects.get(name="beta_page").teams.get().slug == "blue"
    assert StatusPage.objects.get(slug="blue-status").components.get(name="API").sources.get().slug == "us-east"
    assert AlertRule.objects.get(name="budget burning").objective == Objective.objects.get(name="api availability")
    window = MaintenanceWindow.objects.get(title="Database upgrade")
    assert [s.source.slug for s in window.silences.all()] == ["us-east"]  # made by the window, not by the files
    assert "Status page maintenance" not in first["silences.yaml"]
    assert Board.objects.get(slug="blue-waits").document()["panels"][0]["metrics"] == ["cpu_load"]


def test_it_plans_creates_changes_field_by_field_and_deletes(setup_settings: Any) -> None:
    make_source("old-one", url="http://127.0.0.1:9/old")
    make_source("us-east", url="http://127.0.0.1:9/a", interval_seconds=30)
    files = {
        "sources.yaml": text(
            {
                "sources": [
                    {
                        "slug": "us-east",
                        "name": "Us East",
                        "url": "http://127.0.0.1:9/b",
                        "interval": 60,
                        "region": "us-east",
                    },
                    {"slug": "new-one", "name": "New", "url": "http://127.0.0.1:9/new", "tags": ["x"]},
                ]
            }
        )
    }
    shown = make_plan(files, prune=True).render()
    assert shown.splitlines() == [
        "~ change sources us-east",
        '    url: "http://127.0.0.1:9/a" -> "http://127.0.0.1:9/b"',
        "    interval: 30 -> 60",
        "+ create sources new-one",
        '    slug: "new-one"',
        '    name: "New"',
        '    url: "http://127.0.0.1:9/new"',
        '    tags: ["x"]',
        "- delete sources old-one",
        "Plan: 1 to create, 1 to change, 1 to delete.",
    ]
    kept = make_plan(files).render()
    assert "- delete" not in kept
    assert kept.endswith("1 stored object(s) in scope are not in the files: kept (--prune deletes them).\n")


def test_it_redacts_secrets_in_the_plan_and_the_audit_trail(setup_settings: Any) -> None:
    make_source("us-east", url="http://127.0.0.1:9/a")
    files = {
        "s.yaml": text(
            {
                "sources": [
                    {
                        "slug": "us-east",
                        "name": "Us East",
                        "url": "http://127.0.0.1:9/a",
                        "region": "us-east",
                        "auth_scheme": "bearer",
                        "auth_secret": "${API_TOKEN}",
                        "headers": {"X-Api-Key": "${API_KEY}", "Accept": "application/json"},
                    }
                ]
            }
        )
    }
    environ = {"API_TOKEN": SECRET_VALUE, "API_KEY": SECRET_VALUE + "-key"}
    plan = make_plan(files, environ=environ)
    shown = plan.render()
    assert SECRET_VALUE not in shown
    assert '    auth_secret: "" -> "(secret)"' in shown
    assert '"X-Api-Key": "(secret)"' in shown
    assert '"Accept": "application/json"' in shown

    apply_files(files, environ=environ, user=make_user("admin", superuser=True))
    event = AuditEvent.objects.get(action="config.apply")
    assert SECRET_VALUE not in str(event.detail)
    assert event.detail["counts"] == {"create": 0, "change": 1, "delete": 0}
    from devops_insights import crypto

    assert crypto.decrypt(Source.objects.get(slug="us-east").auth_secret_encrypted) == SECRET_VALUE
    assert (
        "(secret)" in export_files()["sources.yaml"]
        or "${SOURCE_US_EAST_AUTH_SECRET}" in export_files()["sources.yaml"]
    )
    assert SECRET_VALUE not in "".join(export_files().values())


BAD_SOURCES = """\
sources:
  - slug: good
    name: Good
    url: http://127.0.0.1:9/good
  - slug: slow
    name: Slow
    url: http://127.0.0.1:9/slow
    interval: 2
    colour: blue
  - slug: bad-url
    name: Bad
    url: ftp://example.com/x
    timeout: fast
"""
BAD_RULES = """\
alert_rules:
  - name: cpu
    metric: cpu_load
    operator: ">>"
    threshold: 90
  - name: ghost
    kind: poll_failures
    count: 3
    source: nowhere
    channels: [nobody]
  - name: cpu
    metric: cpu_load
    operator: ">"
    threshold: 1
channels:
  - name: hook
    kind: webhook
    url: ${MISSING_HOOK_URL}
    secret: {file: /nonexistent/secret}
extra: 1
"""


def test_it_reports_every_problem_at_once_with_file_line_and_path_and_changes_nothing(setup_settings: Any) -> None:
    make_source("good", url="http://127.0.0.1:9/old-url")
    before = counts()
    found = problems({"a-sources.yaml": BAD_SOURCES, "b-rules.yaml": BAD_RULES}, environ={})
    # Sorted by file and line; an item whose values have the wrong type is not handed to the model as well.
    assert found == [
        "a-sources.yaml:8: sources[1].interval: must be at least 5",
        "a-sources.yaml:9: sources[1].colour: unknown key (known: slug, team, name, url, enabled, interval, timeout, "
        "headers, region, tags, metric_paths, volatile_paths, pinned_metrics, proxy, tls_verify, "
        "insecure_credentials_acknowledged, tls_ca_pem, "
        "tls_client_cert_pem, tls_client_key, auth_scheme, auth_username, auth_secret)",
        "a-sources.yaml:13: sources[2].timeout: must be a number",
        "b-rules.yaml:4: alert_rules[0].operator: must be one of: '', '>', '>=', '<', '<=', '==', '!='",
        "b-rules.yaml:9: alert_rules[1].source: no source 'nowhere' in the team 'default' "
        "(neither in the files nor stored)",
        "b-rules.yaml:10: alert_rules[1].channels[0]: no channel 'nobody' in the team 'default' "
        "(neither in the files nor stored)",
        "b-rules.yaml:11: alert_rules[2].name: default/cpu is described twice (also at b-rules.yaml:2)",
        "b-rules.yaml:18: channels[0].url: the environment variable MISSING_HOOK_URL is not set",
        "b-rules.yaml:19: channels[0].secret: cannot read the secret file /nonexistent/secret: FileNotFoundError",
        "b-rules.yaml:20: extra: unknown key (expected: version, teams, sources, channels, objectives, alert_rules, "
        "silences, status_pages, status_page_components, maintenance_windows, boards, retention, flags)",
    ]
    assert counts() == before
    assert Source.objects.get(slug="good").url == "http://127.0.0.1:9/old-url"
    with pytest.raises(ConfigInvalid):
        apply_files({"a-sources.yaml": BAD_SOURCES, "b-rules.yaml": BAD_RULES}, environ={})
    assert counts() == before
    assert not AuditEvent.objects.filter(action="config.apply").exists()


def test_it_names_a_missing_team_without_calling_it_a_team_of_itself(setup_settings: Any) -> None:
    # A team belongs to no team: the message once read "no team 'nosuch' in the team 'nosuch'".
    source = {"slug": "x", "name": "X", "url": "http://127.0.0.1:9/s", "team": "nosuch"}
    found = problems({"s.yaml": text({"sources": [source]})})
    assert found == ["s.yaml:5: sources[0].team: no team 'nosuch' (neither in the files nor stored)"]


def test_it_refuses_a_source_url_with_a_control_character_on_its_url(setup_settings: Any) -> None:
    # A double-quoted YAML escape: accepted before, and polled percent-encoded (another URL than the file's).
    found = problems({"s.yaml": 'sources:\n  - slug: x\n    name: X\n    url: "http://127.0.0.1:9/s\\x7f"\n'})
    assert len(found) == 1
    assert found[0].startswith("s.yaml:4: sources[0].url: The URL contains the control character U+007F"), found
    assert not Source.objects.filter(slug="x").exists()


def test_it_refuses_tags_aliases_and_unknown_keys() -> None:
    found = problems(
        {
            "x.yaml": "sources: !include other.yaml\n",
            "y.yaml": "teams:\n  - &t {slug: a, name: A}\n  - *t\n",
            "z.yaml": "teams:\n  - slug: !!python/name:os.system b\n    name: B\n    members: []\n",
            "zz.yaml": "teams:\n  - slug: !!str c\n    name: C\n",
        }
    )
    assert "zz.yaml:2: teams[3].slug: tags are not allowed (tag:yaml.org,2002:str)" in found
    assert "x.yaml:1: sources: tags are not allowed (!include)" in found
    # An alias is the anchored node itself: the line is the anchor's, the path the alias's.
    assert "y.yaml:2: teams[1]: anchors and aliases are not allowed" in found
    # Sections continue across files (in name order): z.yaml's first team is the third.
    assert "z.yaml:2: teams[2].slug: tags are not allowed (tag:yaml.org,2002:python/name:os.system)" in found
    assert any(line.startswith("z.yaml:4: teams[2].members: unknown key") for line in found)


def test_it_moves_a_source_to_another_server_only_with_the_secrets_its_file_gives(setup_settings: Any) -> None:
    # A file states a source whole: its secrets come from references on every run and one left out is removed,
    # so a stored secret never follows a URL the file changes (the rule of Source.secrets_kept_for_new_origin).
    from devops_insights import crypto

    source = make_source("us-east", url="http://127.0.0.1:9/a", headers={"X-Api-Key": "stored-key"})
    source.auth_scheme = Source.AuthScheme.BEARER
    source.set_auth_secret("stored-token")
    source.save()
    item = {"slug": "us-east", "name": "Us East", "url": "http://127.0.0.1:10/a", "region": "us-east"}
    with_secrets = {**item, "auth_scheme": "bearer", "auth_secret": "${API_TOKEN}", "headers": {"X-Api-Key": "${K}"}}
    environ = {"API_TOKEN": "new-token", "K": "new-key"}
    apply_files({"s.yaml": text({"sources": [with_secrets]})}, environ=environ, user=make_user("a", superuser=True))
    source.refresh_from_db()
    assert (source.url, source.headers, crypto.decrypt(source.auth_secret_encrypted)) == (
        "http://127.0.0.1:10/a",
        {"X-Api-Key": "new-key"},
        "new-token",
    )

    moved = {**item, "url": "http://127.0.0.1:11/a"}
    apply_files({"s.yaml": text({"sources": [moved]})}, environ={}, user=make_user("b", superuser=True))
    source.refresh_from_db()
    assert (source.url, source.headers, source.auth_secret_encrypted) == ("http://127.0.0.1:11/a", {}, "")


def test_it_reports_a_missing_secret_at_plan_time(setup_settings: Any) -> None:
    files = {
        "s.yaml": text(
            {
                "sources": [
                    {
                        "slug": "a",
                        "name": "A",
                        "url": "http://127.0.0.1:9/a",
                        "auth_scheme": "bearer",
                        "auth_secret": "${NOT_SET_ANYWHERE}",
                    }
                ]
            }
        )
    }
    assert problems(files, environ={}) == [
        "s.yaml:6: sources[0].auth_secret: the environment variable NOT_SET_ANYWHERE is not set"
    ]
    literal = {"s.yaml": files["s.yaml"].replace("${NOT_SET_ANYWHERE}", "plain-text-token")}
    assert problems(literal, environ={}) == [
        "s.yaml:6: sources[0].auth_secret: must be a secret reference, ${ENV_NAME} or {file: /path}: secrets are never "
        "written in files"
    ]


def test_it_reads_a_secret_from_a_file(setup_settings: Any, tmp_path: Any) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text(SECRET_VALUE + "\n")
    files = {
        "s.yaml": text(
            {
                "sources": [
                    {
                        "slug": "a",
                        "name": "A",
                        "url": "http://127.0.0.1:9/a",
                        "auth_scheme": "bearer",
                        "auth_secret": {"file": str(secret_file)},
                    }
                ]
            }
        )
    }
    apply_files(files, environ={})
    from devops_insights import crypto

    assert crypto.decrypt(Source.objects.get(slug="a").auth_secret_encrypted) == SECRET_VALUE


def test_it_prunes_only_with_prune_and_only_in_the_files_teams(setup_settings: Any) -> None:
    blue, red = make_team("blue"), make_team("red")
    make_source("blue-old", team=blue)
    make_source("red-old", team=red)
    make_rule(name="blue rule", team=blue, metric="cpu_load", operator=">", threshold=90.0)
    files = {
        "s.yaml": text({"sources": [{"slug": "blue-new", "team": "blue", "name": "N", "url": "http://127.0.0.1:9/n"}]})
    }

    apply_files(files)
    assert set(Source.objects.values_list("slug", flat=True)) == {"blue-old", "red-old", "blue-new"}
    apply_files(files, prune=True)
    assert set(Source.objects.values_list("slug", flat=True)) == {"red-old", "blue-new"}
    # alert_rules is not a section of these files: its objects are left alone, even with --prune.
    assert AlertRule.objects.filter(name="blue rule").exists()
    assert Team.objects.filter(slug="blue").exists()  # teams are never pruned


def test_it_prunes_a_teams_export_without_touching_global_objects(setup_settings: Any) -> None:
    blue = make_team("blue")
    kept_source = make_source("blue-one", team=blue)
    RetentionPolicy.objects.update_or_create(source=None, defaults={"raw_days": 9})
    RetentionPolicy.objects.create(source=make_source("blue-two", team=blue), raw_days=2, minute_days=2, hour_days=2)
    files = export_files(team="blue")
    assert "source: null" not in files["retention.yaml"]  # a team's export leaves the global policy out
    files["sources.yaml"] = files["sources.yaml"].replace("  - slug: blue-two", "  - slug: blue-gone")
    files["retention.yaml"] = "retention: []\n"

    plan = make_plan(files, prune=True)
    assert [(c.action, c.section, c.label) for c in plan.changes if c.action == "delete"] == [
        ("delete", "retention", "blue-two"),
        ("delete", "sources", "blue-two"),
    ]
    apply_files(files, prune=True)
    assert RetentionPolicy.objects.get(source=None).raw_days == 9
    assert Source.objects.filter(pk=kept_source.pk).exists()


def test_it_adopts_an_object_made_by_hand_with_the_same_natural_key(setup_settings: Any) -> None:
    blue = make_team("blue")
    by_hand = make_rule(
        name="cpu high", team=blue, metric="cpu_load", operator=">", threshold=80.0, description="made in the admin"
    )
    files = {
        "r.yaml": text(
            {
                "alert_rules": [
                    {"team": "blue", "name": "cpu high", "metric": "cpu_load", "operator": ">", "threshold": 95}
                ]
            }
        )
    }
    plan = make_plan(files)
    assert plan.render().splitlines()[:3] == [
        "~ change alert_rules blue/cpu high",
        '    description: "made in the admin" -> ""',
        "    threshold: 80.0 -> 95.0",
    ]
    apply_files(files)
    adopted = AlertRule.objects.get(team=blue, name="cpu high")
    assert adopted.pk == by_hand.pk
    assert adopted.threshold == 95.0
    assert not make_plan(files).has_changes


def test_it_applies_all_or_nothing(setup_settings: Any) -> None:
    """A failure while writing (here: a team name another team holds, found only by the database) rolls back."""
    make_team("blue", name="Blue")
    files = {
        "t.yaml": text(
            {
                "teams": [{"slug": "green", "name": "Green"}],
                "sources": [{"slug": "g", "team": "green", "name": "G", "url": "http://127.0.0.1:9/g"}],
            }
        ),
        "u.yaml": text({"teams": [{"slug": "teal", "name": "Green"}]}),
    }
    before = counts()
    with pytest.raises(Conflict, match="Nothing was changed"):
        apply_files(files)
    assert counts() == before


def test_it_deletes_a_pruned_sources_stored_metrics_after_the_commit(
    setup_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from metrics.stores import get_store
    from tests.factories import payload, record

    old = make_source("old-one")
    record(old, payload(), datetime(2026, 3, 1, 12, tzinfo=UTC))
    assert get_store().latest("old-one") is not None
    files = {"s.yaml": text({"sources": [{"slug": "new-one", "name": "N", "url": "http://127.0.0.1:9/n"}]})}
    with django_capture_on_commit_callbacks(execute=True):
        apply_files(files, prune=True)
    assert not Source.objects.filter(slug="old-one").exists()
    assert get_store().latest("old-one") is None
