"""What the machine-readable endpoints read of a page: its published components and their state.

The state is statuspages/state.py's (the one rule); this module only asks it once per request and hands
the answer to the feeds, the v2 JSON and the badges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.http import HttpRequest

from statuspages.models import Component, StatusPage


class State(StrEnum):
    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True)
class PublishedState:
    overall: State
    components: dict[int, State]


def published_components(page: StatusPage) -> list[Component]:
    return list(page.components.published().prefetch_related("sources").order_by("order", "name", "pk"))


def published_state(page: StatusPage, components: list[Component], now: datetime) -> PublishedState:
    raise NotImplementedError("waiting for statuspages/state.py")


def page_url(request: HttpRequest, page: StatusPage) -> str:
    return request.build_absolute_uri(f"/status/{page.slug}/")
