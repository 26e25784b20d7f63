"""A status page in the Statuspage v2 shape (``/status/<slug>/api/v2/*.json``), for existing widgets and chat
integrations. The exact shape is documented in docs/status-pages.md and checked by the tests against it.

States are never computed here: each component's and the page's state come from statuspages/state.py
(through ``published_state``), whose values are already the v2 component statuses and whose ``INDICATOR``
and ``OVERALL_LABELS`` give ``status.indicator`` and ``status.description``. Only published components
appear; incident and maintenance ``body`` is the plain text of the Markdown (statuspages/markdown.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from statuspages.feed_text import render_plain
from statuspages.models import Component, Incident, IncidentStatus, MaintenanceWindow, StatusPage
from statuspages.published import PublishedState
from statuspages.state import INDICATOR, OVERALL_LABELS

MAX_ITEMS = 50


def stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def page_block(page: StatusPage, page_url: str, updated_at: datetime) -> dict[str, Any]:
    return {
        "id": page.slug,
        "name": page.title,
        "url": page_url,
        "time_zone": "Etc/UTC",
        "updated_at": stamp(updated_at),
    }


def status_block(state: PublishedState) -> dict[str, str]:
    return {"indicator": INDICATOR[state.overall], "description": OVERALL_LABELS[state.overall]}


def component_block(page: StatusPage, component: Component, state: PublishedState, position: int) -> dict[str, Any]:
    return {
        "id": str(component.pk),
        "name": component.name,
        "status": str(state.components[component.pk]),  # the state's values are the v2 statuses
        "created_at": stamp(component.created_at),
        "updated_at": stamp(component.updated_at),
        "position": position,
        "description": component.description or None,
        "showcase": True,
        "start_date": component.created_at.date().isoformat(),
        "group_id": None,
        "page_id": page.slug,
        "group": False,
        "only_show_if_degraded": False,
    }


def components_block(page: StatusPage, components: list[Component], state: PublishedState) -> list[dict[str, Any]]:
    return [component_block(page, c, state, position) for position, c in enumerate(components, start=1)]


def _component_refs(
    page: StatusPage, linked: Iterable[Component], state: PublishedState, positions: dict[int, int]
) -> list[dict[str, Any]]:
    # Only components the page publishes; a linked unpublished one is simply absent.
    return [component_block(page, c, state, positions[c.pk]) for c in linked if c.published and c.pk in positions]


def incident_block(
    page: StatusPage, incident: Incident, page_url: str, state: PublishedState, positions: dict[int, int]
) -> dict[str, Any]:
    updates = list(incident.updates.all())  # newest first
    monitoring = [u.created_at for u in updates if u.status == IncidentStatus.MONITORING]
    return {
        "id": str(incident.pk),
        "name": incident.title,
        "status": incident.status,
        "created_at": stamp(incident.started_at),
        "updated_at": stamp(incident.last_changed_at(updates)),
        "monitoring_at": stamp(min(monitoring)) if monitoring else None,
        "resolved_at": stamp(incident.resolved_at),
        "impact": incident.impact,
        "shortlink": f"{page_url}#incident-{incident.pk}",
        "started_at": stamp(incident.started_at),
        "page_id": page.slug,
        "incident_updates": [
            {
                "id": str(update.pk),
                "status": update.status,
                "body": render_plain(update.body),
                "incident_id": str(incident.pk),
                "created_at": stamp(update.created_at),
                "updated_at": stamp(update.created_at),
                "display_at": stamp(update.created_at),
                "affected_components": None,
                "deliver_notifications": False,
                "custom_tweet": None,
                "tweet_id": None,
            }
            for update in updates
        ],
        "components": _component_refs(page, incident.components.all(), state, positions),
    }


def maintenance_block(
    page: StatusPage,
    window: MaintenanceWindow,
    page_url: str,
    state: PublishedState,
    positions: dict[int, int],
    now: datetime,
) -> dict[str, Any]:
    phase = window.phase(now)
    return {
        "id": str(window.pk),
        "name": window.title,
        "status": phase,
        "created_at": stamp(window.created_at),
        "updated_at": stamp(window.updated_at),
        "monitoring_at": None,
        "resolved_at": stamp(window.ends_at) if phase == "completed" else None,
        "impact": "maintenance",
        "shortlink": f"{page_url}#maintenance-{window.pk}",
        "started_at": stamp(window.starts_at),
        "page_id": page.slug,
        "incident_updates": [
            {
                "id": f"{window.pk}-{phase}",
                "status": phase,
                "body": render_plain(window.body),
                "incident_id": str(window.pk),
                "created_at": stamp(window.updated_at),
                "updated_at": stamp(window.updated_at),
                "display_at": stamp(window.updated_at),
                "affected_components": None,
                "deliver_notifications": False,
                "custom_tweet": None,
                "tweet_id": None,
            }
        ]
        if window.body
        else [],
        "components": _component_refs(page, window.components.all(), state, positions),
        "scheduled_for": stamp(window.starts_at),
        "scheduled_until": stamp(window.ends_at),
    }


class Document:
    """Everything one request of the v2 endpoints reads, fetched once; each endpoint takes its part."""

    def __init__(
        self,
        page: StatusPage,
        page_url: str,
        state: PublishedState,
        components: list[Component],
        now: datetime,
        states_changed_at: datetime | None = None,
    ):
        self.page = page
        self.states_changed_at = states_changed_at  # statuspages/states_since.py
        self.page_url = page_url
        self.state = state
        self.components = components
        self.positions = {c.pk: position for position, c in enumerate(components, start=1)}
        self.now = now

    def _incidents(self, unresolved: bool) -> list[dict[str, Any]]:
        found = self.page.incidents.visible().prefetch_related("updates", "components")
        if unresolved:
            found = found.unresolved()
        return [
            incident_block(self.page, i, self.page_url, self.state, self.positions)
            for i in found.order_by("-started_at", "-pk")[:MAX_ITEMS]
        ]

    def _maintenance(self, which: str) -> list[dict[str, Any]]:
        found = self.page.maintenance_windows.prefetch_related("components")
        if which == "upcoming":
            found = found.upcoming(self.now).order_by("starts_at", "pk")
        elif which == "active":
            found = found.active(self.now).order_by("starts_at", "pk")
        elif which == "current":  # what summary.json lists: not yet over
            found = found.filter(ends_at__gt=self.now).order_by("starts_at", "pk")
        else:
            found = found.order_by("-starts_at", "-pk")
        return [
            maintenance_block(self.page, w, self.page_url, self.state, self.positions, self.now)
            for w in found[:MAX_ITEMS]
        ]

    def updated_at(self) -> datetime:
        """When anything the page shows last changed: an edit of the page or a component, a component's or the
        page's state (``states_changed_at``), an incident (edited, or ``Incident.last_changed_at``: an update or
        a resolution, which the admin may save without touching the incident's own row) or a maintenance."""
        moments = [self.page.updated_at, *(c.updated_at for c in self.components)]
        incidents = self.page.incidents.visible()
        latest_edit = incidents.order_by("-updated_at").values_list("updated_at", flat=True).first()
        latest_window = (
            self.page.maintenance_windows.order_by("-updated_at").values_list("updated_at", flat=True).first()
        )
        changes = (self.states_changed_at, incidents.last_changed_at(), latest_edit, latest_window)
        moments += [m for m in changes if m is not None]
        return max(moments)

    def head(self) -> dict[str, Any]:
        return {"page": page_block(self.page, self.page_url, self.updated_at())}

    def summary(self) -> dict[str, Any]:
        return {
            **self.head(),
            "components": components_block(self.page, self.components, self.state),
            "incidents": self._incidents(unresolved=True),
            "scheduled_maintenances": self._maintenance("current"),
            "status": status_block(self.state),
        }

    def status(self) -> dict[str, Any]:
        return {**self.head(), "status": status_block(self.state)}

    def components_only(self) -> dict[str, Any]:
        return {**self.head(), "components": components_block(self.page, self.components, self.state)}

    def incidents(self, unresolved: bool = False) -> dict[str, Any]:
        return {**self.head(), "incidents": self._incidents(unresolved)}

    def scheduled_maintenances(self, which: str = "all") -> dict[str, Any]:
        return {**self.head(), "scheduled_maintenances": self._maintenance(which)}
