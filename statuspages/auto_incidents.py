"""Optional: a draft incident opened when a critical alert fires for a source of a published component.

Only for pages with ``auto_draft_incidents`` on. The draft is seen only by the team (management pages);
an admin edits and publishes it, or deletes it. One firing opens at most one draft
(``Incident.opened_by_event`` is unique), and a component gets no second one while the incident opened for it
(``Incident.opened_for``) is unresolved, whether still a draft or published, nor while it has an unresolved
draft made by hand. The database keeps the first rule itself (the constraint
``one_open_auto_incident_per_component``), so two firings handled at once on two threads or processes open
one incident, not two. Nothing of the alert (rule, message, values) is copied into the draft: it may be published.
A silenced firing (a maintenance window, a manual silence) opens nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from alerts.models import AlertEvent, Severity
from statuspages.models import Component, Impact, Incident, IncidentStatus, IncidentUpdate


def open_drafts_for(event: dict[str, Any]) -> list[Incident]:
    """Drafts opened for one announced event (``alerts.signals.alert_event_recorded``'s ``event``)."""
    if event.get("kind") != AlertEvent.Kind.FIRED or event.get("severity") != Severity.CRITICAL:
        return []
    if event.get("silenced"):
        return []
    event_id = event.get("id")
    slug = event.get("source")
    if not isinstance(event_id, int) or not isinstance(slug, str):
        return []
    # A component opens a draft for its page's team's sources only: not for one moved to another team since.
    components = Component.objects.filter(
        published=True, page__auto_draft_incidents=True, sources__slug=slug, sources__team_id=F("page__team_id")
    ).select_related("page")
    opened = []
    for component in components:
        # Its own automatic incident, draft or published (an admin published the draft: still the same
        # problem), or a draft the team made for it by hand.
        opened_for_it = Incident.objects.open_auto_for(component)
        drafted = Incident.objects.unresolved().filter(components=component, is_draft=True)
        if opened_for_it.exists() or drafted.exists():
            continue
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    page=component.page,
                    title=f"Problems with {component.name}",
                    impact=Impact.MAJOR,
                    status=IncidentStatus.INVESTIGATING,
                    is_draft=True,
                    opened_by_event_id=event_id,
                    opened_for=component,
                )
                incident.components.add(component)
                IncidentUpdate.objects.create(
                    incident=incident,
                    status=IncidentStatus.INVESTIGATING,
                    body=f"We are investigating problems with {component.name}.",
                )
        except IntegrityError:
            # This firing already opened a draft (another component of the same source, or a repeat), or
            # another poll's firing opened one for this component since the check above (a race the
            # check alone cannot close: the constraint one_open_auto_incident_per_component does).
            continue
        opened.append(incident)
    return opened
