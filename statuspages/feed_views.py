"""Views of the machine-readable face of a status page: Atom and JSON feeds, the Statuspage v2 JSON, badges.

Every view goes through ``statuspages.feed_access`` (rate limit, published page, visibility; badge keys
excepted) and answers with an ETag (304 on If-None-Match) and Cache-Control. Only GET and HEAD. Every
answer is cached like the page's HTML (statuspages/answers.py): a warm one opens no database connection;
a cold one that finds the database pool exhausted answers 503 with Retry-After (statuspages/busy.py).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from metrics.stores import get_store
from metrics.stores.base import StoreError, UptimeWindow
from statuspages import feeds, lookup
from statuspages.answers import cached_answer
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
from statuspages.busy import degrade_when_busy
from statuspages.component_uptime import component_window
from statuspages.content import PageContent
from statuspages.feed_access import Refusal, find_page, finish, open_page, throttle
from statuspages.models import Component, StatusPage
from statuspages.published import page_url, published_components, published_state
from statuspages.state import State
from statuspages.states_since import states_changed_at
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


def _busy(message: str) -> HttpResponse:
    # No pooled database connection came in time (statuspages/busy.py): the error shape, 503.
    return Refusal(503, "busy", message).response()


def machine_endpoint(view: View) -> View:
    """GET/HEAD only; a Refusal raised below becomes its error response, a busy database a 503."""

    @require_safe
    @degrade_when_busy(_busy)
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
    # The feed's own address without the request's query string: a query would name another cached
    # answer for nothing (and let any caller fill the cache with copies).
    url, feed_url = page_url(request, page), request.build_absolute_uri(request.path)

    def make(_content: PageContent) -> bytes:
        found = feeds.entries(page, url, timezone.now())
        if json_format:
            return feeds.json_feed(page, url, feed_url, found)
        return feeds.atom(page, url, feed_url, found)

    body = cached_answer(page, f"feed:{'json' if json_format else 'atom'}:{url}:{feed_url}", make)
    response = HttpResponse(body, content_type=feeds.JSON_FEED_TYPE if json_format else feeds.ATOM_TYPE)
    return finish(request, _readable_elsewhere(response, page), shared=_shared(page))


@machine_endpoint
def atom_feed(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    return _feed(request, slug, json_format=False)


@machine_endpoint
def json_feed(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    return _feed(request, slug, json_format=True)


# --- Statuspage v2 --------------------------------------------------------------------------


def _v2(name: str, part: Callable[[Document], dict[str, Any]]) -> View:
    @machine_endpoint
    def view(request: HttpRequest, slug: str | None = None) -> HttpResponse:
        page = open_page(request, slug)
        url = page_url(request, page)

        def make(content: PageContent) -> bytes:
            state = published_state(content)
            changed = states_changed_at(content)
            document = Document(page, url, state, published_components(page, state), timezone.now(), changed)
            return json.dumps(part(document), ensure_ascii=False).encode()

        body = cached_answer(page, f"v2:{name}:{url}", make)
        response = _readable_elsewhere(HttpResponse(body, content_type=JSON_TYPE), page)
        return finish(request, response, shared=_shared(page))

    return view


v2_summary = _v2("summary", Document.summary)
v2_status = _v2("status", Document.status)
v2_components = _v2("components", Document.components_only)
v2_incidents = _v2("incidents", lambda d: d.incidents())
v2_incidents_unresolved = _v2("incidents-unresolved", lambda d: d.incidents(unresolved=True))
v2_scheduled_maintenances = _v2("maintenances", lambda d: d.scheduled_maintenances())
v2_scheduled_maintenances_upcoming = _v2("maintenances-upcoming", lambda d: d.scheduled_maintenances("upcoming"))
v2_scheduled_maintenances_active = _v2("maintenances-active", lambda d: d.scheduled_maintenances("active"))


# --- badges ---------------------------------------------------------------------------------


def _labelled(request: HttpRequest, badge: Badge) -> Badge:
    """The badge with the request's ``?label=`` instead of its own label, when one is given."""
    label = request.GET.get("label")
    return badge if label is None else Badge(label[:200], badge.value, badge.colour)


def _component_state(content: PageContent, component: Component) -> State:
    state = published_state(content).components.get(component.pk)
    if state is None:
        raise Refusal(404, "not_found", "No such component on this page.")
    return state


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


def component_badge(content: PageContent, component: Component, kind: str) -> Badge:
    """The component's badge of ``kind`` with its own label (``?label=`` is the view's: ``_labelled``)."""
    if kind == "status":
        word, colour = STATE_WORDS[_component_state(content, component)]
        return Badge(component.name, word, colour)
    slugs = [source.slug for source in component.shown_sources()]
    if kind.startswith("uptime-"):
        window = _window(slugs, kind.removeprefix("uptime-"))
        return Badge(
            f"uptime {window.window}", format_uptime(window.uptime_percent), uptime_colour(window.uptime_percent)
        )
    if kind == "latency":
        window = _window(slugs, "24h")
        return Badge("latency p50 24h", format_latency(window.latency_p50_ms), latency_colour(window.latency_p50_ms))
    # kind == "metric": only the one metric the component opted in to publish.
    if not component.show_metric:
        raise Refusal(404, "not_found", "This component publishes no metric.")
    _component_state(content, component)
    metric = published_state(content).metrics.get(component.pk)  # the value the page shows (statuspages/content.py)
    text = "no data" if metric is None else format_metric(metric.value, metric.unit)
    return Badge(component.show_metric, text, GREY if metric is None else BLUE)


@dataclass(frozen=True)
class NoBadge:
    """A badge's 404, cached like a badge: it lasts as long (until the page's generation moves)."""

    message: str


def _badge_answer(
    find: Callable[[], Component | None], kind: str, missing: str
) -> Callable[[PageContent], Badge | NoBadge]:
    """Make a component's badge for ``cached_answer``; ``missing`` says why when ``find`` finds no
    component. A 503 (the store unreadable) is raised, so never cached."""

    def make(content: PageContent) -> Badge | NoBadge:
        component = find()
        if component is None:
            return NoBadge(missing)
        try:
            return component_badge(content, component, kind)
        except Refusal as refusal:
            if refusal.status != 404:
                raise
            return NoBadge(refusal.message)

    return make


def _component_svg(request: HttpRequest, answer: Badge | NoBadge) -> HttpResponse:
    if isinstance(answer, NoBadge):
        raise Refusal(404, "not_found", answer.message)
    return _svg(request, _labelled(request, answer), shared=True)


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

    def make(content: PageContent) -> Badge:
        word, colour = STATE_WORDS[content.overall]
        return Badge(page.title, word, colour)

    return _svg(request, _labelled(request, cached_answer(page, "badge", make)), shared=_shared(page))


@machine_endpoint
def slug_badge(request: HttpRequest, component_id: str, kind: str, slug: str | None = None) -> HttpResponse:
    """A component's badge by page slug (or custom host): public pages only (the others' badges go by key)."""
    _check_kind(kind)
    throttle(request)
    page = find_page(request, slug)
    if not page.is_public:
        raise Refusal(404, "not_found", "No such public status page; address badges of other pages by key.")
    # Any text reaches here (a str converter), so a malformed id gets the error shape, not the site's 404 page.
    if not (component_id.isdigit() and len(component_id) <= 18):  # fits a bigint
        raise Refusal(404, "not_found", "No such component on this page.")
    pk = int(component_id)
    find = page.components.published().filter(pk=pk).first
    answer = cached_answer(page, f"badge:{pk}:{kind}", _badge_answer(find, kind, "No such component on this page."))
    return _component_svg(request, answer)


@machine_endpoint
def key_badge(request: HttpRequest, key: str, kind: str) -> HttpResponse:
    """A component's badge by its badge key, for any published page whatever its visibility: the key is the
    capability, so it works in READMEs and wikis without a login or a password."""
    _check_kind(kind)
    throttle(request)
    found = lookup.by_badge_key(key)
    if found is None or not found[0].published:
        raise Refusal(404, "not_found", "No such badge.")
    page, pk = found
    # The component again (published, still of this page, still under this key) whenever the answer is
    # made: its changes move only the page's generation, not the lookup's (statuspages/lookup.py).
    find = Component.objects.published().select_related("page").filter(pk=pk, page=page, badge_key=key).first
    answer = cached_answer(page, f"badge-key:{key}:{kind}", _badge_answer(find, kind, "No such badge."))
    return _component_svg(request, answer)
