"""Every /api/v1/ operation, for every kind of caller: the expected answer (issue 17, requirement 5).

The matrix is walked from the API itself (its routers' operations and its URL patterns): an operation the
matrix does not list fails ``test_it_lists_every_operation``, so a new endpoint cannot ship without its row.

The world: teams blue and red; source ``blue-1`` of blue with a snapshot and an alert event; callers:

- anonymous; ``other`` / ``other_token``: an admin of red (session / admin token), who must not learn that
  blue-1 exists (404 like a missing source, hidden from lists);
- ``viewer``, ``operator``, ``admin``: sessions of blue members; ``viewer_token`` / ``admin_token``: blue tokens;
- ``removed_token``: an admin token of someone who has left blue (401, like a revoked token);
- ``superuser``: a member of nothing, who administers everything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Membership, Team
from alerts.models import AlertEvent
from api.ninja_api import api
from boards.models import Annotation
from objectives.models import Objective
from tests.alerts.support import make_rule
from tests.factories import (
    bearer,
    board_document,
    make_board,
    make_member,
    make_objective,
    make_source,
    make_team,
    make_token,
    make_user,
    payload,
    record,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

CALLERS = (
    "anonymous",
    "other",
    "other_token",
    "viewer",
    "operator",
    "admin",
    "viewer_token",
    "admin_token",
    "removed_token",
    "superuser",
)
PROBE = "probe"  # a readiness probe: 200 or 503 (the poller heartbeat), to anyone
SEES, HIDDEN = "sees", "hidden"  # 200, and blue-1 is (not) in the answer


def row(anonymous: Any, other: Any, viewer: Any, operator: Any, admin: Any, superuser: Any) -> dict[str, Any]:
    """One operation's expectations; a token answers like the session of the same role, a removed one 401."""
    return {
        "anonymous": anonymous,
        "other": other,
        "other_token": other,
        "viewer": viewer,
        "operator": operator,
        "admin": admin,
        "viewer_token": viewer,
        "admin_token": admin,
        "removed_token": 401 if anonymous == 401 else anonymous,
        "superuser": superuser,
    }


PUBLIC = row(200, 200, 200, 200, 200, 200)
READ_ONE = row(401, 404, 200, 200, 200, 200)
READ_LIST = row(401, HIDDEN, SEES, SEES, SEES, SEES)
MANAGE_ONE = row(401, 404, 403, 403, 200, 200)
AUDIT = row(401, HIDDEN, 403, 403, SEES, SEES)
EDIT_ONE = row(401, 404, 403, 200, 200, 200)

MATRIX: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/api/v1/"): PUBLIC,
    ("GET", "/api/v1/health"): PUBLIC,
    ("GET", "/api/v1/ready"): row(PROBE, PROBE, PROBE, PROBE, PROBE, PROBE),
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("GET", "/api/v1/docs"): PUBLIC,
    ("GET", "/api/v1/info"): READ_LIST,  # the regions of the caller's sources only
    ("GET", "/api/v1/sources"): READ_LIST,
    # A create naming team blue: another team's admin is told blue is no team of theirs.
    ("POST", "/api/v1/sources"): row(401, 400, 403, 403, 201, 201),
    ("GET", "/api/v1/sources/{slug}"): READ_ONE,
    ("PATCH", "/api/v1/sources/{slug}"): MANAGE_ONE,
    ("DELETE", "/api/v1/sources/{slug}"): row(401, 404, 403, 403, 204, 204),
    ("GET", "/api/v1/metrics"): READ_LIST,
    ("GET", "/api/v1/metrics/{slug}"): READ_ONE,
    ("GET", "/api/v1/metrics/{slug}/history"): READ_ONE,
    ("GET", "/api/v1/metrics/{slug}/changes"): READ_ONE,
    ("GET", "/api/v1/metrics/{slug}/series"): READ_ONE,
    ("GET", "/api/v1/export/{slug}"): READ_ONE,
    ("GET", "/api/v1/alerts"): READ_LIST,
    ("GET", "/api/v1/objectives"): READ_LIST,  # blue's objective covers blue-1
    ("GET", "/api/v1/objectives/{objective_id}"): READ_ONE,
    # Like a source's create: another team's admin is told blue is no team of theirs.
    ("POST", "/api/v1/objectives"): row(401, 400, 403, 403, 201, 201),
    ("GET", "/api/v1/anomalies"): READ_LIST,  # an anomaly marker of blue-1
    ("GET", "/api/v1/audit"): AUDIT,
    ("GET", "/api/v1/audit/export"): AUDIT,
    ("GET", "/api/v1/config/schema.json"): PUBLIC,
    # Behind the config_api flag, on for superusers only at first (docs/feature-flags.md): 403 for the rest.
    ("POST", "/api/v1/config/plan"): row(401, 403, 403, 403, 403, 200),
    ("POST", "/api/v1/config/apply"): row(401, 403, 403, 403, 403, 200),
    # Boards (the board "blue-1" of team blue): viewers read, operators and admins edit.
    ("GET", "/api/v1/boards"): READ_LIST,
    ("POST", "/api/v1/boards"): row(401, 400, 403, 201, 201, 201),
    ("GET", "/api/v1/boards/{slug}"): READ_ONE,
    ("PUT", "/api/v1/boards/{slug}"): EDIT_ONE,
    ("DELETE", "/api/v1/boards/{slug}"): row(401, 404, 403, 204, 204, 204),
    ("GET", "/api/v1/boards/{slug}/versions"): READ_ONE,
    ("POST", "/api/v1/boards/{slug}/versions/{number}/restore"): EDIT_ONE,
    ("POST", "/api/v1/boards/{slug}/duplicate"): row(401, 404, 403, 201, 201, 201),
    ("GET", "/api/v1/boards/{slug}/data"): READ_ONE,
    ("POST", "/api/v1/boards/{slug}/preview"): READ_ONE,  # saves nothing: a viewer may preview
    ("GET", "/api/v1/compare"): READ_LIST,
    ("GET", "/api/v1/annotations"): READ_LIST,
    # Another team's source is "no such source", as for a source that does not exist.
    ("POST", "/api/v1/annotations"): row(401, 400, 403, 201, 201, 201),
}

# A source of team blue, as configuration-as-code files say it.
CONFIG_FILES = {
    "sources.yaml": "version: 1\nsources:\n  - slug: blue-config\n    team: blue\n    name: Blue config\n"
    "    url: http://127.0.0.1:9/s\n    interval: 30\n"
}

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/sources"): {"name": "New", "url": "http://127.0.0.1:9/s", "team": "blue"},
    ("PATCH", "/api/v1/sources/{slug}"): {"name": "Renamed"},
    ("POST", "/api/v1/objectives"): {"team": "blue", "sources": ["blue-1"]},
    ("POST", "/api/v1/config/plan"): CONFIG_FILES,
    ("POST", "/api/v1/config/apply"): CONFIG_FILES,
    ("POST", "/api/v1/boards"): {**board_document("New board"), "team": "blue"},
    ("PUT", "/api/v1/boards/{slug}"): board_document("Renamed"),
    ("POST", "/api/v1/boards/{slug}/preview"): board_document("Preview"),
    ("POST", "/api/v1/annotations"): {"text": "v2.6.15 deployed", "source": "blue-1"},
}
# Operations whose answer names blue-1 only when asked about a metric.
QUERIES: dict[tuple[str, str], str] = {("GET", "/api/v1/compare"): "?metric=cpu_load"}
BOARD_PATHS = "/api/v1/boards/{slug}"  # {slug} there is a board's, not a source's
NAMED_BY = {"/api/v1/objectives": "name"}  # a create whose unique field is not a slug


def operations() -> set[tuple[str, str]]:
    """Every (method, path) the API answers, from its routers and its own URL patterns (schema, docs)."""
    found: set[tuple[str, str]] = set()
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            full = "/api/v1/" + "/".join(part.strip("/") for part in (prefix, path) if part.strip("/"))
            full = full.replace("{slug:slug}", "{slug}")
            for operation in path_view.operations:
                found.update((method, full) for method in operation.methods if method != "HEAD")
    for pattern in api.urls[0]:
        route = str(pattern.pattern)
        if route in ("openapi.json", "docs"):
            found.add(("GET", f"/api/v1/{route}"))
    return found


def test_it_lists_every_operation() -> None:
    missing = operations() - set(MATRIX)
    assert not missing, f"API operations without a row in the access matrix: {sorted(missing)}"
    stale = set(MATRIX) - operations()
    assert not stale, f"rows for operations that no longer exist: {sorted(stale)}"
    for expected in MATRIX.values():
        assert set(expected) == set(CALLERS)


def test_it_answers_head_wherever_get_is_listed() -> None:
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                assert ("HEAD" in operation.methods) == ("GET" in operation.methods)


MUTATING = frozenset({"POST", "PATCH", "DELETE"})


def world() -> dict[str, tuple[Client, dict[str, str]]]:
    blue, red = make_team("blue"), make_team("red")
    source = make_source("blue-1", team=blue, region="blue-1")
    make_board("blue-1", team=blue)
    Annotation.objects.create(team=blue, source=source, at=timezone.now(), text="blue-1 deployed")
    record(source, payload(), datetime.now(UTC).replace(microsecond=0))
    AlertEvent.objects.create(
        source=source,
        rule_name="cpu",
        kind=AlertEvent.Kind.FIRED,
        severity="warning",
        condition="cpu_load > 1",
        message="blue-1 is hot",
        occurred_at=timezone.now(),
    )
    make_objective("blue-1 up", team=blue, sources=[source])
    odd = make_rule(name="odd", team=blue, kind="anomaly", metric="cpu_load", anomaly_mode="seasonal")
    AlertEvent.objects.create(
        source=source,
        rule=odd,
        rule_name="odd",
        kind=AlertEvent.Kind.FIRED,
        severity="warning",
        condition="cpu_load anomalous",
        message="blue-1 is odd",
        value={"metric": "cpu_load", "hour": timezone.now().isoformat(), "value": 9.0},
        occurred_at=timezone.now(),
    )
    # No passwords: hashing one per user would make this world slow to build, and nobody logs in by form here.
    callers: dict[str, tuple[Client, dict[str, str]]] = {"anonymous": (Client(), {})}
    for role in ("viewer", "operator", "admin"):
        client = Client()
        client.force_login(make_member(role, role, blue, password=None))
        callers[role] = (client, {})
    other = Client()
    other.force_login(make_member("other", "admin", red, password=None))
    callers["other"] = (other, {})
    callers["other_token"] = (Client(), bearer(make_token("other", role="admin", team=red)))
    callers["viewer_token"] = (Client(), bearer(make_token("viewer", role="viewer", team=blue)))
    callers["admin_token"] = (Client(), bearer(make_token("admin", role="admin", team=blue)))
    make_member("leaver", "admin", blue, password=None)
    removed = make_token("leaver", role="admin", team=blue)
    Membership.objects.filter(user__username="leaver").delete()
    callers["removed_token"] = (Client(), bearer(removed))
    root = Client()
    root.force_login(make_user("root", superuser=True, password=None))
    callers["superuser"] = (root, {})
    return callers


def body_of(response: Any) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return bytes(response.content)


def outcome(response: Any, expected: Any) -> str | None:
    """None when ``response`` is what the matrix expects, else what differs."""
    content = body_of(response)
    status = response.status_code
    if expected == PROBE:
        return None if status in (200, 503) else f"{status}, expected 200 or 503"
    if status >= 400 and set(response.json()) != {"error"}:
        return f"{status} without the one error shape"
    if expected in (SEES, HIDDEN):
        if status != 200:
            return f"{status}, expected 200 ({expected})"
        sees = b"blue-1" in content
        return None if sees == (expected == SEES) else f"200 but {'sees' if sees else 'misses'} blue-1"
    return None if status == expected else f"{status}, expected {expected}: {content[:200]!r}"


@pytest.mark.parametrize("operation", sorted(MATRIX), ids=lambda op: f"{op[0]} {op[1]}")
def test_it_answers_as_the_matrix_says(operation: tuple[str, str]) -> None:
    """One world per operation; every caller in it (a change gets its own target, so callers do not interfere)."""
    method, path = operation
    callers = world()
    wrong: dict[str, str] = {}
    for caller in CALLERS:
        slug = "blue-1"
        body = BODIES.get(operation)
        if method in MUTATING:
            slug = f"blue-{caller.replace('_', '-')}"
            if (method, path) in (("POST", "/api/v1/sources"), ("POST", "/api/v1/objectives")):
                body = {**(body or {}), NAMED_BY.get(path, "slug"): slug}
            elif (path.startswith(BOARD_PATHS) and method != "POST") or path.endswith(("/restore", "/duplicate")):
                make_board(slug, team=Team.objects.get(slug="blue"))  # a board of its own to change
            elif method == "POST":
                slug = "blue-1"  # a body of its own (BODIES); the path names the shared board, if any
            else:
                make_source(slug, team=Team.objects.get(slug="blue"))
        client, headers = callers[caller]
        objective = str(Objective.objects.get(name="blue-1 up").pk)
        url = path.replace("{slug}", slug).replace("{number}", "1").replace("{objective_id}", objective)
        url += QUERIES.get(operation, "")
        if body is None:
            response = client.generic(method, url, **headers)
        else:
            response = getattr(client, method.lower())(url, data=body, content_type="application/json", **headers)
        problem = outcome(response, MATRIX[operation][caller])
        if problem:
            wrong[caller] = problem
    assert wrong == {}
