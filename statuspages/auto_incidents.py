"""Optional: a draft incident opened when a critical alert fires for a source of a published component.

Only for pages with ``auto_draft_incidents`` on. The draft is seen only by the team (management pages);
an admin edits and publishes it, or deletes it. One firing opens at most one draft
(``Incident.opened_by_event`` is unique), and a component that already has an unresolved draft gets no
second one. Nothing of the alert (rule, message, values) is copied into the draft: it may be published.
A silenced firing (a maintenance window, a manual silence) opens nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

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
    components = Component.objects.filter(
        published=True, page__auto_draft_incidents=True, sources__slug=slug
    ).select_related("page")
    opened = []
    for component in components:
        already = Incident.objects.filter(components=component, is_draft=True).exclude(status=IncidentStatus.RESOLVED)
        if already.exists():
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
                )
                incident.components.add(component)
                IncidentUpdate.objects.create(
                    incident=incident,
                    status=IncidentStatus.INVESTIGATING,
                    body=f"We are investigating problems with {component.name}.",
                )
        except IntegrityError:
            # This firing already opened a draft (another component of the same source, or a repeat).
            continue
        opened.append(incident)
    return opened
