"""Views of the machine-readable face of a status page: Atom and JSON feeds, the Statuspage v2 JSON, badges.

Every view goes through ``statuspages.feed_access`` (rate limit, published page, visibility; badge keys
excepted) and answers with an ETag (304 on If-None-Match) and Cache-Control. Only GET and HEAD.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from metrics.stores import get_store
from metrics.stores.base import StoreError, UptimeWindow
from statuspages import feeds
from statuspages.badges import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    RED,
    YELLOW,
    Badge,
    format_latency,
    format_uptime,
    latency_colour,
    uptime_colour,
)
from statuspages.component_uptime import component_window
from statuspages.feed_access import Refusal, find_page, finish, open_page, throttle
from statuspages.models import Component, StatusPage
from statuspages.published import PublishedState, page_url, published_components, published_state
from statuspages.state import State
from statuspages.statuspage_v2 import Document

View = Callable[..., HttpResponse]
SVG_TYPE = "image/svg+xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"

STATE_WORDS: dict[State, tuple[str, str]] = {
    State.OPERATIONAL: ("operational", GREEN),
    State.DEGRADED: ("degraded", YELLOW),
    State.PARTIAL_OUTAGE: ("partial outage", ORANGE),
    State.MAJOR_OUTAGE: ("major outage", RED),
    State.MAINTENANCE: ("maintenance", BLUE),
}
UPTIME_WINDOWS = ("24h", "7d", "30d")
BADGE_KINDS = ("status", *(f"uptime-{w}" for w in UPTIME_WINDOWS), "latency", "metric")


def machine_endpoint(view: View) -> View:
    """GET/HEAD only; a Refusal raised below becomes its error response."""

    @require_safe
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Refusal as refusal:
            return refusal.response()

    return wrapper


def _shared(page: StatusPage) -> bool:
    return page.is_public


def _readable_elsewhere(response: HttpResponse, page: StatusPage) -> HttpResponse:
    # Widgets and web feed readers on other sites fetch these; a public page's are public anyway. Never
    # for the other pages: their answers depend on the caller's cookie or password.
    if page.is_public:
        response["Access-Control-Allow-Origin"] = "*"
    return response


# --- feeds ----------------------------------------------------------------------------------


def _feed(request: HttpRequest, slug: str | None, json_format: bool) -> HttpResponse:
    page = open_page(request, slug)
    url, feed_url = page_url(request, page), request.build_absolute_uri()
    found = feeds.entries(page, url, timezone.now())
    if json_format:
        response = HttpResponse(feeds.json_feed(page, url, feed_url, found), content_type=feeds.JSON_FEED_TYPE)
    else:
        response = HttpResponse(feeds.atom(page, url, feed_url, found), content_type=feeds.ATOM_TYPE)
    return finish(request, _readable_elsewhere(response, page), shared=_shared(page))


@machine_endpoint
def atom_feed(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    return _feed(request, slug, json_format=False)


@machine_endpoint
def json_feed(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    return _feed(request, slug, json_format=True)


# --- Statuspage v2 --------------------------------------------------------------------------


def _v2(part: Callable[[Document], dict[str, Any]]) -> View:
    @machine_endpoint
    def view(request: HttpRequest, slug: str | None = None) -> HttpResponse:
        page = open_page(request, slug)
        state = published_state(page)
        components = published_components(page, state)
        document = Document(page, page_url(request, page), state, components, timezone.now())
        body = json.dumps(part(document), ensure_ascii=False)
        response = _readable_elsewhere(HttpResponse(body, content_type=JSON_TYPE), page)
        return finish(request, response, shared=_shared(page))

    return view


v2_summary = _v2(Document.summary)
v2_status = _v2(Document.status)
v2_components = _v2(Document.components_only)
v2_incidents = _v2(lambda d: d.incidents())
v2_incidents_unresolved = _v2(lambda d: d.incidents(unresolved=True))
v2_scheduled_maintenances = _v2(lambda d: d.scheduled_maintenances())
v2_scheduled_maintenances_upcoming = _v2(lambda d: d.scheduled_maintenances("upcoming"))
v2_scheduled_maintenances_active = _v2(lambda d: d.scheduled_maintenances("active"))


# --- badges ---------------------------------------------------------------------------------


def _label(request: HttpRequest, default: str) -> str:
    label = request.GET.get("label")
    return default if label is None else label[:200]


def _state_of(page: StatusPage, component: Component | None) -> tuple[State, PublishedState]:
    state = published_state(page)
    if component is None:
        return state.overall, state
    if component.pk not in state.components:
        raise Refusal(404, "not_found", "No such component on this page.")
    return state.components[component.pk], state


def format_metric(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "no data"
    text = str(int(value)) if value == int(value) and abs(value) < 1e15 else f"{value:.4g}"
    return f"{text} {unit}".strip()


def _window(slugs: list[str], window: str) -> UptimeWindow:
    try:
        return component_window(get_store(), slugs, window, timezone.now())
    except StoreError as error:
        # The metric store is down: a 503 in the error shape (never cached), not a badge claiming "no data".
        raise Refusal(503, "unavailable", "Uptime data is unavailable right now; retry later.") from error


def component_badge(request: HttpRequest, page: StatusPage, component: Component, kind: str) -> Badge:
    if kind == "status":
        state, _ = _state_of(page, component)
        word, colour = STATE_WORDS[state]
        return Badge(_label(request, component.name), word, colour)
    slugs = [source.slug for source in component.sources.all()]
    if kind.startswith("uptime-"):
        window = _window(slugs, kind.removeprefix("uptime-"))
        return Badge(
            _label(request, f"uptime {window.window}"),
            format_uptime(window.uptime_percent),
            uptime_colour(window.uptime_percent),
        )
    if kind == "latency":
        window = _window(slugs, "24h")
        return Badge(
            _label(request, "latency p50 24h"),
            format_latency(window.latency_p50_ms),
            latency_colour(window.latency_p50_ms),
        )
    # kind == "metric": only the one metric the component opted in to publish.
    if not component.show_metric:
        raise Refusal(404, "not_found", "This component publishes no metric.")
    _component_state, published = _state_of(page, component)
    metric = published.metrics.get(component.pk)  # the value the page shows (statuspages/content.py)
    text = "no data" if metric is None else format_metric(metric.value, metric.unit)
    return Badge(_label(request, component.show_metric), text, GREY if metric is None else BLUE)


def _svg(request: HttpRequest, badge: Badge, shared: bool) -> HttpResponse:
    response = HttpResponse(badge.svg(), content_type=SVG_TYPE)
    # An SVG opened directly must not run anything, whatever text it carries.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return finish(request, response, shared=shared)


def _check_kind(kind: str) -> None:
    if kind not in BADGE_KINDS:
        raise Refusal(404, "not_found", f"Unknown badge; use one of {', '.join(BADGE_KINDS)}.")


@machine_endpoint
def page_status_badge(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    page = open_page(request, slug)
    state, _ = _state_of(page, None)
    word, colour = STATE_WORDS[state]
    return _svg(request, Badge(_label(request, page.title), word, colour), shared=_shared(page))


@machine_endpoint
def slug_badge(request: HttpRequest, component_id: str, kind: str, slug: str | None = None) -> HttpResponse:
    """A component's badge by page slug (or custom host): public pages only (the others' badges go by key)."""
    _check_kind(kind)
    throttle(request)
    page = find_page(request, slug)
    if not page.is_public:
        raise Refusal(404, "not_found", "No such public status page; address badges of other pages by key.")
    # Any text reaches here (a str converter), so a malformed id gets the error shape, not the site's 404 page.
    well_formed = component_id.isdigit() and len(component_id) <= 18  # fits a bigint
    component = page.components.published().filter(pk=int(component_id)).first() if well_formed else None
    if component is None:
        raise Refusal(404, "not_found", "No such component on this page.")
    return _svg(request, component_badge(request, page, component, kind), shared=True)


@machine_endpoint
def key_badge(request: HttpRequest, key: str, kind: str) -> HttpResponse:
    """A component's badge by its badge key, for any published page whatever its visibility: the key is the
    capability, so it works in READMEs and wikis without a login or a password."""
    _check_kind(kind)
    throttle(request)
    component = Component.objects.published().select_related("page").filter(badge_key=key, page__published=True).first()
    if component is None:
        raise Refusal(404, "not_found", "No such badge.")
    return _svg(request, component_badge(request, component.page, component, kind), shared=True)
