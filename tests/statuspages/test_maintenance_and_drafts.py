"""Maintenance windows silence their components' sources; a critical alert can open a draft incident."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from alerts.engine import announce_event
from alerts.models import AlertEvent, Severity, Silence
from pollers.models import Source
from statuspages.auto_incidents import open_drafts_for
from statuspages.models import Incident, IncidentStatus, MaintenanceWindow
from tests.factories import add_member, make_component, make_source, make_status_page, make_team, make_user
from tests.races import needs_two_writers, waiting_at

pytestmark = pytest.mark.django_db(transaction=True)


def window_for(page: Any, *components: Any, hours: int = 2) -> MaintenanceWindow:
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        page=page, title="DB upgrade", starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=hours)
    )
    window.components.add(*components)
    return window


def test_it_silences_every_source_of_the_windows_components_for_the_window() -> None:
    page = make_status_page()
    a, b, c = make_source("a"), make_source("b"), make_source("c")
    window = window_for(page, make_component(page, "API", [a, b]), make_component(page, "Web", [b]))

    silences = Silence.objects.filter(maintenance_windows=window)
    assert sorted(s.source.slug for s in silences) == ["a", "b"]  # b once, c not at all
    assert all((s.starts_at, s.ends_at) == (window.starts_at, window.ends_at) for s in silences)
    assert all(s.reason == "Status page maintenance: DB upgrade" for s in silences)
    # Alerting's own check sees them: one home for "is this source silenced".
    assert Silence.objects.covering(a)
    assert not Silence.objects.covering(c)


def test_it_follows_the_window_when_its_times_components_or_sources_change() -> None:
    page = make_status_page()
    a, b = make_source("a"), make_source("b")
    api = make_component(page, "API", [a])
    window = window_for(page, api)

    window.ends_at = window.ends_at + timedelta(hours=3)
    window.save()
    [silence] = Silence.objects.filter(maintenance_windows=window)
    assert silence.ends_at == window.ends_at

    api.sources.add(b)
    assert sorted(Silence.objects.filter(maintenance_windows=window).values_list("source__slug", flat=True)) == [
        "a",
        "b",
    ]
    window.components.clear()
    assert not Silence.objects.filter(maintenance_windows=window).exists()
    assert not Silence.objects.covering(a)


def test_it_removes_the_silences_with_the_window_and_leaves_others_alone() -> None:
    page = make_status_page()
    a = make_source("a")
    manual = Silence.objects.create(source=a, ends_at=timezone.now() + timedelta(hours=1), reason="by hand")
    window = window_for(page, make_component(page, "API", [a]))
    assert Silence.objects.count() == 2

    window.delete()

    assert list(Silence.objects.all()) == [manual]


def fired(source_slug: str, *, severity: str = Severity.CRITICAL, silenced: bool = False) -> dict[str, Any]:
    source = Source.objects.filter(slug=source_slug).first() or make_source(source_slug)
    event = AlertEvent.objects.create(
        source=source,
        rule_name="cpu",
        kind=AlertEvent.Kind.FIRED,
        severity=severity,
        condition="cpu > 90",
        message="INTERNAL cpu 97 on host-17",
        occurred_at=timezone.now(),
        silenced=silenced,
    )
    return event.as_dict()


def test_it_neither_silences_nor_opens_drafts_for_a_source_moved_to_another_team() -> None:
    # The page's window silenced, and its component opened drafts for, a source moved to another team: the
    # old team's page quieted the new team's alerts and told its visitors of the new team's outages.
    page = make_status_page(auto_draft_incidents=True)
    moved, kept = make_source("a"), make_source("b")
    component = make_component(page, "Checkout", [moved, kept])
    moved.team = make_team("red")
    moved.save()
    window = window_for(page, component)
    assert [s.source.slug for s in Silence.objects.filter(maintenance_windows=window)] == ["b"]
    assert not Silence.objects.covering(moved)
    assert open_drafts_for(fired("a")) == []
    assert len(open_drafts_for(fired("b"))) == 1


def test_it_opens_one_draft_per_critical_firing_on_a_published_component() -> None:
    page = make_status_page(auto_draft_incidents=True)
    source = make_source("a")
    make_component(page, "Checkout", [source])
    event = fired("a")

    [draft] = open_drafts_for(event)

    assert draft.is_draft
    assert draft.status == IncidentStatus.INVESTIGATING
    assert draft.title == "Problems with Checkout"
    assert [c.name for c in draft.components.all()] == ["Checkout"]
    assert "INTERNAL" not in draft.updates.get().body  # nothing of the alert is copied
    assert open_drafts_for(event) == []  # the same firing again
    assert open_drafts_for(fired("a")) == []  # an unresolved draft is already open
    assert Incident.objects.count() == 1


@pytest.mark.parametrize(
    ("auto", "severity", "silenced", "published"),
    [
        (False, Severity.CRITICAL, False, True),  # the page did not opt in
        (True, Severity.WARNING, False, True),
        (True, Severity.CRITICAL, True, True),  # a maintenance window silenced it
        (True, Severity.CRITICAL, False, False),  # an unpublished component
    ],
)
def test_it_opens_no_draft_otherwise(auto: bool, severity: str, silenced: bool, published: bool) -> None:
    page = make_status_page(auto_draft_incidents=auto)
    make_component(page, "Checkout", [make_source("a")], published=published)
    assert open_drafts_for(fired("a", severity=severity, silenced=silenced)) == []
    assert not Incident.objects.exists()


def test_it_opens_drafts_from_the_alert_signal() -> None:
    page = make_status_page(auto_draft_incidents=True)
    make_component(page, "Checkout", [make_source("a")])
    announce_event("a", fired("a"))
    assert Incident.objects.filter(is_draft=True).count() == 1


def test_it_opens_no_second_draft_while_the_published_one_is_open() -> None:
    page = make_status_page(auto_draft_incidents=True)
    checkout = make_component(page, "Checkout", [make_source("a")])
    [first] = open_drafts_for(fired("a"))
    first.is_draft = False  # an admin published it; the source is still down
    first.save()

    assert open_drafts_for(fired("a")) == []
    assert list(Incident.objects.all()) == [first]

    first.status = IncidentStatus.RESOLVED
    first.save()
    [second] = open_drafts_for(fired("a"))  # a new outage, after the last one was resolved
    assert second.opened_for == checkout
    with pytest.raises(IntegrityError), transaction.atomic():  # the database keeps it so too
        Incident.objects.create(page=page, title="Again", opened_for=checkout)


def test_it_opens_one_incident_when_two_firings_race() -> None:
    # Two polls' firings handled at once (two poller threads or processes): each checks for an open
    # incident before the other's is committed, so each finds none. Real threads, real connections.
    page = make_status_page(auto_draft_incidents=True)
    make_component(page, "Checkout", [make_source("a")])
    first_event, second_event = fired("a"), fired("a")
    # It waits at its first write: SQLite's BEGIN IMMEDIATE (which waits for this writer), PostgreSQL's INSERT.
    with waiting_at(("BEGIN", 'INSERT INTO "statuspages_incident" '), lambda: open_drafts_for(second_event)) as race:
        [first] = open_drafts_for(first_event)  # written, not yet committed

    assert race.answer == []
    assert list(Incident.objects.all()) == [first]


def test_it_refuses_to_reopen_an_automatic_incident_beside_another_open_one(client: Client) -> None:
    page = make_status_page(auto_draft_incidents=True)
    make_component(page, "Checkout", [make_source("a")])
    [old] = open_drafts_for(fired("a"))
    old.status = IncidentStatus.RESOLVED
    old.save()
    [new] = open_drafts_for(fired("a"))

    old.status = IncidentStatus.MONITORING
    old.resolved_at = None
    with pytest.raises(ValidationError) as caught:  # the admin's and the incident form's check
        old.full_clean()
    assert f"(#{new.pk})" in " ".join(caught.value.message_dict["status"])

    admin = make_user("ada")
    add_member(admin, page.team, Role.ADMIN)
    client.force_login(admin)
    response = client.post(
        f"/manage/status-pages/{page.pk}/incidents/{old.pk}/updates/",
        {"status": "monitoring", "body": "Back again."},
        follow=True,
    )
    assert response.status_code == 400
    assert "resolve it before reopening this one" in response.content.decode()
    assert "Back again.</textarea>" in response.content.decode(), "the text typed is kept beside the refusal"
    old.refresh_from_db()
    assert old.status == IncidentStatus.RESOLVED
    assert not old.updates.filter(body="Back again.").exists()


def two_resolved_automatic_incidents() -> tuple[Any, Incident, Incident]:
    page = make_status_page(auto_draft_incidents=True)
    make_component(page, "Checkout", [make_source("a")])
    incidents = []
    for _ in range(2):
        [incident] = open_drafts_for(fired("a"))
        incident.status = IncidentStatus.RESOLVED
        incident.save()
        incidents.append(incident)
    return page, incidents[0], incidents[1]


REOPENED = {"title": "Back again.", "impact": "major", "status": "monitoring"}
# Where an admin reopens an incident: the management page's timeline and form, and the Django admin.
REOPEN_AT = {
    "timeline": (
        "/manage/status-pages/{page}/incidents/{incident}/updates/",
        {"status": "monitoring", "body": "Back again."},
    ),
    "form": ("/manage/status-pages/{page}/incidents/{incident}/", {**REOPENED, "started_at": "2026-12-01T01:00"}),
    "admin": (
        "/admin/statuspages/incident/{incident}/change/",
        {**REOPENED, "page": "{page}", "started_at_0": "2026-12-01", "started_at_1": "01:00:00"}
        | {"updates-TOTAL_FORMS": "0", "updates-INITIAL_FORMS": "0"},
    ),
}


@pytest.mark.parametrize("where", sorted(REOPEN_AT))
def test_it_answers_the_admin_who_loses_a_race_to_reopen_an_automatic_incident(where: str, settings: Any) -> None:
    # Two admins reopen the component's two resolved automatic incidents at once: each checks for an open
    # twin before the other's change is committed, so each finds none, and the database's constraint
    # (one_open_auto_incident_per_component) refuses the second. That one gets the check's error, not a 500.
    needs_two_writers()
    page, old, new = two_resolved_automatic_incidents()
    settings.REQUIRE_MFA_FOR_STAFF = False
    admin = make_user("ada", staff=True, password=None)
    add_member(admin, page.team, Role.ADMIN)
    url, data = REOPEN_AT[where]
    url = url.format(page=page.pk, incident=old.pk)
    data = {name: value.format(page=page.pk) for name, value in data.items()}
    browser = Client()
    browser.force_login(admin)
    with waiting_at('UPDATE "statuspages_incident" ', lambda: browser.post(url, data, follow=True)) as race:
        Incident.objects.filter(pk=new.pk).update(status=IncidentStatus.MONITORING, resolved_at=None)
    answer = race.answer
    assert answer.status_code == (200 if where == "admin" else 400)  # the admin answers its own refusals 200
    assert f"(#{new.pk})" in answer.content.decode()
    assert "resolve it before reopening this one" in answer.content.decode()
    if where == "timeline":
        html = answer.content.decode()
        assert "Back again.</textarea>" in html, "the text typed is kept beside the refusal"
        # The incident's form shows it as stored (resolved), not with the status the refused update gave it.
        incident_status = re.search(r'<select name="status"[^>]*id="id_status"[^>]*>(.*?)</select>', html, re.S)
        assert incident_status is not None
        assert '<option value="resolved" selected>' in incident_status.group(1)
    old.refresh_from_db()
    assert (old.status, old.title) == (IncidentStatus.RESOLVED, "Problems with Checkout")
    assert not old.updates.filter(body="Back again.").exists()


def test_it_does_not_bring_back_an_incident_another_admin_deleted_while_it_was_edited(settings: Any) -> None:
    # The admin's edit read the incident; another admin deleted it and committed before the edit's UPDATE,
    # which found no row. The edit saves nothing and says so, where Django's save inserted it again.
    needs_two_writers()
    page, old, _new = two_resolved_automatic_incidents()
    settings.REQUIRE_MFA_FOR_STAFF = False
    admin = make_user("ada", staff=True, password=None)
    add_member(admin, page.team, Role.ADMIN)
    url, data = REOPEN_AT["admin"]
    data = {name: value.format(page=page.pk) for name, value in data.items()}
    browser = Client()
    browser.force_login(admin)
    edit = lambda: browser.post(url.format(incident=old.pk), data, follow=True)  # noqa: E731
    with waiting_at('UPDATE "statuspages_incident" ', edit) as race:
        Incident.objects.filter(pk=old.pk).delete()
    assert race.answer.status_code == 200
    assert "was deleted by someone else while you edited it: nothing was saved" in race.answer.content.decode()
    assert not Incident.objects.filter(pk=old.pk).exists()
