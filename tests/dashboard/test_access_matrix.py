"""The access matrix of every non-API route: who gets what, for six kinds of visitor.

Visitors: anonymous; a stranger (admin of another team: a high role elsewhere must not leak); a viewer,
an operator and an admin of the team "blue" that owns every object the routes name; a superuser who is
in no team. The matrix walks the URL resolver and fails when a route exists that it does not list
(routes under /api/v1/ are the API's matrix, tests/api/test_access_matrix.py). The admin and allauth's
account pages are checked as families. Static files are public and served by WhiteNoise's middleware
without a URL pattern (tests/dashboard/test_static.py); the health probe is /api/v1/health. The
WebSocket actions have their matrix in tests/realtime/test_team_access.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from accounts.models import ApiToken, Invitation, Role
from alerts.models import AlertRule, NotificationChannel, RuleState, Silence
from tests.factories import add_member, make_board, make_objective, make_source, make_team, make_user, payload, record

pytestmark = pytest.mark.django_db

PRINCIPALS = ("anonymous", "stranger", "viewer", "operator", "admin", "superuser")
API_PREFIX = "api/v1/"
# Families checked by their own tests below rather than route by route.
ADMIN_PREFIX = "admin/"
ALLAUTH_MODULE = "allauth."
ALLAUTH_LEGACY_REDIRECTS = "django.views.generic.base"  # allauth's old /accounts/social/... addresses
# Status pages: the public pages (access by each page's visibility) and their management (team admins),
# with their own access tests in tests/statuspages/ (test_public_page.py, test_manage.py); here the
# management family is checked to need a login.
STATUS_PAGES_PUBLIC = "status/"
STATUS_PAGES_MANAGE = "manage/status-pages/"


@dataclass(frozen=True)
class Row:
    method: str
    url: str  # formatted with the world's ids: {slug}, {team}, {rule}, ...
    expected: tuple[int, int, int, int, int, int]  # in PRINCIPALS order
    data: tuple[tuple[str, str], ...] = ()


def row(method: str, url: str, *expected: int, **data: str) -> Row:
    assert len(expected) == len(PRINCIPALS)
    return Row(method, url, tuple(expected), tuple(data.items()))  # type: ignore[arg-type]


LOGIN = 302  # anonymous visitors of a page are sent to the login page
JSON_401 = 401  # anonymous callers of a JSON endpoint get 401, not a redirect
GONE = 404  # another team's object: exactly like a missing one

# route pattern -> the requests that exercise it.
MATRIX: dict[str, list[Row]] = {
    # --- dashboard: reads (viewer) ---------------------------------------------------------------
    "": [row("get", "/", LOGIN, 200, 200, 200, 200, 200)],
    "overview/cards.json": [row("get", "/overview/cards.json", JSON_401, 200, 200, 200, 200, 200)],
    "overview/sparklines.json": [row("get", "/overview/sparklines.json", JSON_401, 200, 200, 200, 200, 200)],
    "sources/<slug:slug>/": [row("get", "/sources/{slug}/", LOGIN, GONE, 200, 200, 200, 200)],
    "sources/<slug:slug>/changes/": [row("get", "/sources/{slug}/changes/", LOGIN, GONE, 200, 200, 200, 200)],
    "sources/<slug:slug>/latest.json": [row("get", "/sources/{slug}/latest.json", LOGIN, GONE, 200, 200, 200, 200)],
    "sources/<slug:slug>/latest/download": [
        row("get", "/sources/{slug}/latest/download", LOGIN, GONE, 200, 200, 200, 200)
    ],
    "sources/<slug:slug>/series.json": [row("get", "/sources/{slug}/series.json", JSON_401, GONE, 200, 200, 200, 200)],
    "sources/<slug:slug>/parts.json": [row("get", "/sources/{slug}/parts.json", JSON_401, GONE, 200, 200, 200, 200)],
    "alerts/": [row("get", "/alerts/", LOGIN, 200, 200, 200, 200, 200)],
    # Boards (docs/boards.md): the editor's writes go through /api/v1/boards, where operators may write.
    "boards/": [row("get", "/boards/", LOGIN, 200, 200, 200, 200, 200)],
    "boards/compare/": [row("get", "/boards/compare/", LOGIN, 200, 200, 200, 200, 200)],
    "boards/<slug:slug>/": [row("get", "/boards/blue-board/", LOGIN, GONE, 200, 200, 200, 200)],
    # Objectives and reports (docs/objectives.md): read by any member of the team.
    "objectives/": [row("get", "/objectives/", LOGIN, 200, 200, 200, 200, 200)],
    "objectives/<int:pk>/": [row("get", "/objectives/{objective}/", LOGIN, GONE, 200, 200, 200, 200)],
    "reports/": [
        row("get", "/reports/", LOGIN, 200, 200, 200, 200, 200),
        row("get", "/reports/?team=blue&month=2026-11", LOGIN, GONE, 200, 200, 200, 200),
        row("get", "/reports/?source={slug}&month=2026-11&format=csv", LOGIN, GONE, 200, 200, 200, 200),
    ],
    "system/state.json": [row("get", "/system/state.json", JSON_401, 200, 200, 200, 200, 200)],
    # --- dashboard: operate (operator) -------------------------------------------------------------
    r"^sources/(?P<slug>[-a-zA-Z0-9_]+)/(?P<action>pause|resume|poll|trial)/$": [
        row("post", "/sources/{slug}/pause/", LOGIN, GONE, 403, 302, 302, 302),
        row("post", "/sources/{slug}/resume/", LOGIN, GONE, 403, 302, 302, 302),
        row("post", "/sources/{slug}/trial/", LOGIN, GONE, 403, 302, 302, 302),
    ],
    "alerts/silence/<slug:slug>/": [
        row("post", "/alerts/silence/{slug}/", LOGIN, GONE, 403, 302, 302, 302, duration="1h")
    ],
    "alerts/silences/<int:pk>/end/": [row("post", "/alerts/silences/{silence}/end/", LOGIN, GONE, 403, 302, 302, 302)],
    "alerts/states/<int:pk>/acknowledge/": [
        row("post", "/alerts/states/{state}/acknowledge/", LOGIN, GONE, 403, 302, 302, 302)
    ],
    # --- dashboard: manage (admin); "new" acts in the current team, where the stranger is admin -----
    "sources/new/": [row("get", "/sources/new/", LOGIN, 200, 403, 403, 200, 200)],
    "sources/<slug:slug>/edit/": [row("get", "/sources/{slug}/edit/", LOGIN, GONE, 403, 403, 200, 200)],
    "sources/<slug:slug>/delete/": [row("get", "/sources/{slug}/delete/", LOGIN, GONE, 403, 403, 200, 200)],
    "alerts/rules/new/": [row("get", "/alerts/rules/new/", LOGIN, 200, 403, 403, 200, 200)],
    "alerts/rules/<int:pk>/": [row("get", "/alerts/rules/{rule}/", LOGIN, GONE, 403, 403, 200, 200)],
    "alerts/channels/new/": [row("get", "/alerts/channels/new/", LOGIN, 200, 403, 403, 200, 200)],
    "alerts/channels/<int:pk>/": [row("get", "/alerts/channels/{channel}/", LOGIN, GONE, 403, 403, 200, 200)],
    "alerts/channels/<int:pk>/test/": [
        row("post", "/alerts/channels/{channel}/test/", LOGIN, GONE, 403, 403, 302, 302)
    ],
    "system/": [row("get", "/system/", LOGIN, 200, 403, 403, 200, 200)],
    # --- teams -------------------------------------------------------------------------------------
    "teams/": [
        row("get", "/teams/", LOGIN, 200, 200, 200, 200, 200),
        row("post", "/teams/", LOGIN, 403, 403, 403, 403, 302, name="Green"),
    ],
    "teams/switch/": [row("post", "/teams/switch/", LOGIN, GONE, 302, 302, 302, 302, team="{team}")],
    "teams/<slug:slug>/": [row("get", "/teams/blue/", LOGIN, GONE, 200, 200, 200, 200)],
    # The superuser is in no team: there is nothing to leave. The admin is blue's last: refused, shown.
    "teams/<slug:slug>/leave/": [row("post", "/teams/blue/leave/", LOGIN, GONE, 302, 302, 302, GONE)],
    "teams/<slug:slug>/members/<int:pk>/role/": [
        row("post", "/teams/blue/members/{viewer_membership}/role/", LOGIN, GONE, 403, 403, 302, 302, role="operator")
    ],
    "teams/<slug:slug>/members/<int:pk>/remove/": [
        row("post", "/teams/blue/members/{viewer_membership}/remove/", LOGIN, GONE, 403, 403, 302, 302)
    ],
    "teams/<slug:slug>/invitations/": [
        row("post", "/teams/blue/invitations/", LOGIN, GONE, 403, 403, 200, 200, role="viewer", lifetime="1")
    ],
    "teams/<slug:slug>/invitations/<int:pk>/revoke/": [
        row("post", "/teams/blue/invitations/{invitation}/revoke/", LOGIN, GONE, 403, 403, 302, 302)
    ],
    # Whoever holds the link may join (that is what it is for); the viewer is a member already: 409.
    "invitations/<str:token>/": [
        row("get", "/invitations/{invitation_token}/", LOGIN, 200, 200, 200, 200, 200),
        row("post", "/invitations/{invitation_token}/", LOGIN, 302, 409, 409, 409, 302),
    ],
    # --- the signed-in user's own pages --------------------------------------------------------------
    "accounts/tokens/": [row("get", "/accounts/tokens/", LOGIN, 200, 200, 200, 200, 200)],
    "accounts/tokens/<int:pk>/revoke/": [
        row("post", "/accounts/tokens/{viewer_token}/revoke/", LOGIN, GONE, 302, GONE, GONE, GONE)
    ],
    "accounts/password/": [row("get", "/accounts/password/", LOGIN, 200, 200, 200, 200, 200)],
    "accounts/password/done/": [row("get", "/accounts/password/done/", LOGIN, 200, 200, 200, 200, 200)],
    # --- public ------------------------------------------------------------------------------------
    # Signed-in visitors of the login page are sent on to the overview.
    "accounts/login/": [row("get", "/accounts/login/", 200, 302, 302, 302, 302, 302)],
    "accounts/logout/": [row("post", "/accounts/logout/", 302, 302, 302, 302, 302, 302)],
    # Prometheus: its own rule (address allow-list or METRICS_TOKEN), the same for every visitor.
    "metrics": [row("get", "/metrics", 200, 200, 200, 200, 200, 200)],
}


def walk(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from walk(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def non_api_routes() -> dict[str, str]:
    """Every route outside /api/v1/, with the module of its view."""
    return {
        route: getattr(callback, "__module__", "") or ""
        for route, callback in walk(get_resolver())
        if not route.startswith(API_PREFIX)
    }


def is_family(route: str, module: str) -> bool:
    return (
        route.startswith((ADMIN_PREFIX, STATUS_PAGES_PUBLIC, STATUS_PAGES_MANAGE))
        or module.startswith(ALLAUTH_MODULE)
        or (route.startswith("accounts/") and module == ALLAUTH_LEGACY_REDIRECTS)
    )


def test_it_lists_every_non_api_route() -> None:
    routes = non_api_routes()
    unlisted = sorted(route for route, module in routes.items() if route not in MATRIX and not is_family(route, module))
    assert not unlisted, f"routes missing from the access matrix: {unlisted}"
    stale = sorted(set(MATRIX) - set(routes))
    assert not stale, f"the matrix lists routes that no longer exist: {stale}"


# --- the world every row runs in ---------------------------------------------------------------------


@pytest.fixture
def world(settings: Any) -> dict[str, Any]:
    blue = make_team("blue")
    red = make_team("red")
    source = make_source("blue-src", team=blue)
    make_source("red-src", team=red)
    make_board("Blue board", team=blue)
    record(source, payload(), timezone.now())
    # No password: these users only ever sign in with force_login, and hashing five passwords per case
    # would make this matrix of hundreds of cases take minutes.
    users = {
        "stranger": make_user("stranger", password=None),
        "viewer": make_user("viewer", password=None),
        "operator": make_user("operator", password=None),
        "admin": make_user("admin", staff=True, password=None),
        "superuser": make_user("root", superuser=True, password=None),
    }
    add_member(users["stranger"], red, Role.ADMIN)
    viewer_membership = add_member(users["viewer"], blue, Role.VIEWER)
    add_member(users["operator"], blue, Role.OPERATOR)
    add_member(users["admin"], blue, Role.ADMIN)
    rule = AlertRule.objects.create(
        team=blue, name="cpu hot", kind="metric", metric="cpu_load", operator=">", threshold=90
    )
    channel = NotificationChannel.objects.create(team=blue, name="mail", kind="email", email_to="ops@example.com")
    now = timezone.now()
    silence = Silence.objects.create(team=blue, source=source, ends_at=now + timedelta(hours=1), reason="x")
    state = RuleState.objects.create(rule=rule, source=source, status="firing", firing_since=now, pending_since=now)
    invitation, token = Invitation.issue(blue, Role.VIEWER, users["admin"], timedelta(days=1))
    viewer_token, _raw = ApiToken.issue(users["viewer"], "viewer-token")
    objective = make_objective("blue up", team=blue, sources=[source])
    return {
        "users": users,
        "ids": {
            "slug": source.slug,
            "team": blue.pk,
            "rule": rule.pk,
            "channel": channel.pk,
            "silence": silence.pk,
            "state": state.pk,
            "invitation": invitation.pk,
            "invitation_token": token,
            "viewer_membership": viewer_membership.pk,
            "viewer_token": viewer_token.pk,
            "objective": objective.pk,
        },
    }


def cases() -> Iterator[Any]:
    for route, rows in MATRIX.items():
        for index, entry in enumerate(rows):
            for principal, status in zip(PRINCIPALS, entry.expected, strict=True):
                yield pytest.param(entry, principal, status, id=f"{entry.method} {route or '/'} #{index} {principal}")


@pytest.mark.parametrize(("entry", "principal", "status"), list(cases()))
def test_it_answers_each_visitor_as_the_matrix_says(
    client: Client, world: dict[str, Any], entry: Row, principal: str, status: int
) -> None:
    if principal != "anonymous":
        client.force_login(world["users"][principal])
    url = entry.url.format(**world["ids"])
    data = {key: value.format(**world["ids"]) for key, value in entry.data}
    response = getattr(client, entry.method)(url, data)
    assert response.status_code == status, f"{principal}: {entry.method.upper()} {url}"
    if status == 302 and principal == "anonymous":
        assert response["Location"].startswith("/accounts/login/")


def test_it_answers_another_teams_object_exactly_like_a_missing_one(client: Client, world: dict[str, Any]) -> None:
    client.force_login(world["users"]["stranger"])
    foreign = client.get("/sources/blue-src/")
    missing = client.get("/sources/no-such-source/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content.replace(b"blue-src", b"X") == missing.content.replace(b"no-such-source", b"X")
    foreign_json = client.get("/sources/blue-src/series.json").json()
    missing_json = client.get("/sources/no-such-source/series.json").json()
    assert foreign_json["error"].replace("blue-src", "X") == missing_json["error"].replace("no-such-source", "X")


# --- families ----------------------------------------------------------------------------------------


def test_it_keeps_the_admin_for_staff(client: Client, world: dict[str, Any]) -> None:
    """Anonymous visitors go to the login; a signed-in user without the staff flag is refused the admin."""
    anonymous = client.get("/admin/")
    assert anonymous.status_code == 302
    client.force_login(world["users"]["viewer"])
    refused = client.get("/admin/pollers/source/")
    assert refused.status_code in (302, 403)
    assert b"blue-src" not in refused.content


def test_it_sends_anonymous_visitors_of_status_page_management_to_the_login(client: Client) -> None:
    routes = [r for r in non_api_routes() if r.startswith(STATUS_PAGES_MANAGE)]
    assert routes
    for route in routes:
        url = "/" + re.sub(r"<int:[a-z_]+>", "1", route)
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url


def test_it_serves_allauths_account_pages_to_anonymous_visitors_without_errors(client: Client) -> None:
    """allauth's own pages (sign-up, reset, MFA, SSO): public or sent to the login; never our data, never a 500."""
    routes = [
        route
        for route, module in non_api_routes().items()
        # SSO providers answer only once configured from the environment: tests/accounts/test_sso.py.
        if is_family(route, module) and not route.startswith(ADMIN_PREFIX) and ".providers." not in module
    ]
    assert routes
    for route in routes:
        if "<" in route or "(" in route or "^" in route:
            continue  # needs a key: allauth's own tests cover those
        response = client.get("/" + route)
        assert response.status_code < 500, route
