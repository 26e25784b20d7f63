"""What the feeds' neighbours (v2 JSON, badges) read of a page's state: the page's own content.

States and the opted-in metric values come from statuspages/content.py's ``PageContent`` (built by the
state rule of statuspages/state.py, cached under the page's generations), so the JSON and the badges say
exactly what the HTML page says, and making them costs no store round trip for the states.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from statuspages.content import MetricValue, PageContent
from statuspages.models import Component, StatusPage
from statuspages.public import page_root
from statuspages.state import State


@dataclass(frozen=True)
class PublishedState:
    overall: State
    components: dict[int, State]
    metrics: dict[int, MetricValue | None]


def published_state(content: PageContent) -> PublishedState:
    return PublishedState(
        overall=content.overall,
        components={c.id: c.state for c in content.components},
        metrics={c.id: c.metric for c in content.components},
    )


def published_components(page: StatusPage, state: PublishedState) -> list[Component]:
    """The page's published components that the state knows, in page order."""
    found = page.components.published().order_by("order", "name", "pk")
    return [c for c in found if c.pk in state.components]


def page_url(request: HttpRequest, page: StatusPage) -> str:
    return request.build_absolute_uri(page_root(request, page))
