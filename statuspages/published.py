"""What the machine-readable endpoints read of a page: its published components and their state.

The state is statuspages/state.py's (the one rule): this module only gathers its inputs for one page (the
published components with their sources, and which of them an active maintenance window covers) and asks
it once per request, handing the answer to the v2 JSON and the badges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.http import HttpRequest

from statuspages.models import Component, MaintenanceWindow, StatusPage
from statuspages.state import State, component_state, overall_state


@dataclass(frozen=True)
class PublishedState:
    overall: State
    components: dict[int, State]


def published_components(page: StatusPage) -> list[Component]:
    return list(page.components.published().prefetch_related("sources").order_by("order", "name", "pk"))


def in_maintenance(page: StatusPage, now: datetime) -> set[int]:
    """Pks of the page's components an active maintenance window covers."""
    covered = MaintenanceWindow.objects.active(now).filter(page=page).values_list("components", flat=True)
    return {pk for pk in covered if pk is not None}


def published_state(page: StatusPage, components: list[Component], now: datetime) -> PublishedState:
    maintained = in_maintenance(page, now)
    states = {c.pk: component_state(c.sources.all(), in_maintenance=c.pk in maintained, now=now) for c in components}
    return PublishedState(overall_state(states.values()), states)


def page_url(request: HttpRequest, page: StatusPage) -> str:
    return request.build_absolute_uri(f"/status/{page.slug}/")
