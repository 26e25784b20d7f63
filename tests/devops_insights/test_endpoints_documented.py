"""Every HTTP and WebSocket endpoint the project serves is documented, and every documented one is served.

- Every URL pattern the root URLconf resolves (dashboard, teams, status pages, objectives, boards,
  /metrics, the API's own pages) is named in README.md or docs/*.md as a code span: ``/sources/<slug>/``,
  with any placeholder name (``<id>`` for ``<int:page_id>``), optionally after a method (``GET /metrics``)
  and followed by a query or the span's end. A regex pattern's alternatives (``pause|resume``) are named
  one by one.
- Every URL pattern is in the Endpoints table of docs/README.md too (the index), named or under one of
  its ``/prefix/...`` entries (``/manage/status-pages/...``); and every path of that table is served.
- Every operation of the JSON API (method and path, from the OpenAPI document django-ninja generates)
  is the first cell of a table row of docs/api.md (``GET /api/v1/sources/<slug>``), and every such row
  is an operation the API serves; the rows whose caller is ``public`` are exactly the operations that
  take no credentials.
- Every WebSocket route (realtime/routing.py) is named in the docs.

Left out, on purpose: the Django admin's own pages (one entry, `/admin/`, documents them) and
django-allauth's account, second-factor and single-sign-on pages, whose paths are the library's
(docs/accounts.md lists the ones users are sent to).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.resolvers import RegexPattern

from api.ninja_api import api
from realtime.routing import websocket_urlpatterns

ROOT = Path(__file__).resolve().parents[2]
INDEX = ROOT / "docs" / "README.md"
API_REFERENCE = ROOT / "docs" / "api.md"

# Included URLconfs whose pages are documented by the library, not here (see the module docstring):
# accounts.allauth_urls is allauth's own URLconf, its form views answering 400 to a refused form.
UNDOCUMENTED_INCLUDES = {"admin", "accounts.allauth_urls"}

_PLACEHOLDER = re.compile(r"<[^<>]+>")
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>([^()]*)\)")
_API_ROW = re.compile(r"^\|\s*`(GET|POST|PUT|PATCH|DELETE) (/api/v1/[^`?]*)[^`]*`\s*\|")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_COVERING = re.compile(r"`(?:[A-Z]+ )?(/[^`\s]*/)\.\.\.`")
_METHOD = re.compile(r"^(?:GET|POST|PUT|PATCH|DELETE|HEAD) ")


@dataclass(frozen=True)
class Route:
    path: str  # as the docs would write it: "/sources/<slug>/", placeholders named as in the pattern
    name: str


def _include_label(resolver: URLResolver) -> str:
    module = resolver.urlconf_name
    return str(resolver.app_name or getattr(module, "__name__", ""))


def _shown(pattern: URLPattern | URLResolver) -> list[str]:
    """The pattern's text as the docs write it; a regex pattern's alternatives each on its own."""
    text = str(pattern.pattern)
    if not isinstance(pattern.pattern, RegexPattern):
        return [text]
    text = text.removeprefix("^").removesuffix("$")
    shown = [text]
    for group in _NAMED_GROUP.finditer(text):
        name, body = group.groups()
        if re.fullmatch(r"[\w-]+(\|[\w-]+)+", body):
            shown = [each.replace(group.group(0), word) for each in shown for word in body.split("|")]
        else:
            shown = [each.replace(group.group(0), f"<{name}>") for each in shown]
    return shown


def project_routes(patterns: list[URLPattern | URLResolver] | None = None, prefix: str = "/") -> Iterator[Route]:
    """Every URL pattern of the root URLconf but the undocumented includes', with its full path."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if _include_label(pattern) in UNDOCUMENTED_INCLUDES:
                continue
            for shown in _shown(pattern):
                yield from project_routes(pattern.url_patterns, prefix + shown)
        else:
            for shown in _shown(pattern):
                yield Route(prefix + shown, pattern.name or "(unnamed)")


def _documented_regex(path: str) -> re.Pattern[str]:
    """A code span naming ``path``: any placeholder name, an optional method before, a query after."""
    parts = _PLACEHOLDER.split(path)
    body = r"<[^<>`]+>".join(re.escape(part) for part in parts)
    return re.compile(rf"`(?:[A-Z]+ )?{body}(?:[?#][^`]*)?`")


def _unnamed(path: str) -> str:
    """The path with its placeholders' names left out, to compare ``<slug:slug>`` with ``<slug>``."""
    return _PLACEHOLDER.sub("<>", path)


def _covering_prefixes(text: str) -> list[str]:
    """The paths an index names with everything under them: code spans ending in ``/...``."""
    return [_unnamed(prefix) for prefix in _COVERING.findall(text)]


def undocumented_routes(routes: list[Route], docs: str, where: str = "README.md or docs/") -> list[str]:
    """Routes that ``docs`` does not name; ``where`` says what ``docs`` is, for the message."""
    problems = []
    for route in routes:
        if not _documented_regex(route.path).search(docs):
            problems.append(f"{route.path} ({route.name}): not named in {where}")
    return problems


def unindexed_routes(routes: list[Route], index: str) -> list[str]:
    """Routes the Endpoints table of docs/README.md neither names nor covers with a ``/prefix/...``."""
    section = _endpoints_section(index)
    prefixes = _covering_prefixes(section)
    uncovered = [route for route in routes if not any(_unnamed(route.path).startswith(p) for p in prefixes)]
    return undocumented_routes(uncovered, section, "the Endpoints table of docs/README.md")


def api_operations() -> set[tuple[str, str]]:
    """(method, path) of every operation in the API's OpenAPI document, paths as the docs write them,
    and the two pages django-ninja serves outside it: the document itself and the interactive docs."""
    schema = api.get_openapi_schema()
    own_pages = {("GET", reverse("api:openapi-json")), ("GET", reverse("api:openapi-view"))}
    return own_pages | {
        (method.upper(), re.sub(r"\{(\w+)\}", r"<\1>", path))
        for path, operations in schema["paths"].items()
        for method in operations
    }


def documented_api_operations(reference: str) -> set[tuple[str, str]]:
    return {(match.group(1), match.group(2)) for line in reference.splitlines() if (match := _API_ROW.match(line))}


def public_api_operations() -> set[tuple[str, str]]:
    """The operations that need no credentials: no security in the OpenAPI document, and ninja's own pages
    (api/ninja_api.py serves the document and the interactive docs to anyone)."""
    schema = api.get_openapi_schema()
    own_pages = {("GET", reverse("api:openapi-json")), ("GET", reverse("api:openapi-view"))}
    return own_pages | {
        (method.upper(), re.sub(r"\{(\w+)\}", r"<\1>", path))
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if not operation.get("security")
    }


def documented_public_operations(reference: str) -> set[tuple[str, str]]:
    """The rows of docs/api.md whose second cell (who may call) is ``public``."""
    return {
        (match.group(1), match.group(2))
        for line in reference.splitlines()
        if (match := _API_ROW.match(line)) and line.split("|")[2].strip() == "public"
    }


def api_disagreements(served: set[tuple[str, str]], reference: str) -> list[str]:
    """Operations served but missing from docs/api.md's tables, and rows the API does not serve."""

    def key(operation: tuple[str, str]) -> tuple[str, str]:
        return operation[0], _PLACEHOLDER.sub("<>", operation[1])

    documented = {key(operation): operation for operation in documented_api_operations(reference)}
    served_keys = {key(operation): operation for operation in served}
    problems = [
        f"docs/api.md: no row for `{method} {path}`"
        for method, path in sorted(served_keys[k] for k in served_keys.keys() - documented.keys())
    ]
    problems += [
        f"docs/api.md: a row for `{method} {path}`, which the API does not serve"
        for method, path in sorted(documented[k] for k in documented.keys() - served_keys.keys())
    ]
    return problems


def _endpoints_section(index: str) -> str:
    return index.split("\n## Endpoints", 1)[-1].split("\n## ", 1)[0]


def index_paths(index: str) -> list[str]:
    """The paths in the first cells of docs/README.md's Endpoints table (methods and queries left off)."""
    paths = []
    for line in _endpoints_section(index).splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = line.strip().strip("|").split(" | ")[0]
        for span in _CODE_SPAN.findall(first_cell):
            path = _METHOD.sub("", span).split("?")[0]
            if path.startswith("/"):
                paths.append(path)
    return paths


def _websocket_paths() -> list[str]:
    return ["/" + str(pattern.pattern) for pattern in websocket_urlpatterns]


def unserved_index_paths(paths: list[str], routes: list[Route]) -> list[str]:
    """Documented paths that neither the URLconf nor the WebSocket routing serves (placeholders filled),
    and ``/prefix/...`` entries with no route under them."""
    problems = []
    for path in paths:
        if path.endswith("/..."):
            prefix = _unnamed(path.removesuffix("..."))
            if not any(_unnamed(route.path).startswith(prefix) for route in routes):
                problems.append(f"docs/README.md: the Endpoints table names {path}, with nothing under it")
            continue
        concrete = _PLACEHOLDER.sub("1", path)
        if concrete in _websocket_paths():
            continue
        try:
            resolve(concrete)
        except Resolver404:
            problems.append(f"docs/README.md: the Endpoints table names {path}, which nothing serves")
    return problems


def _docs() -> str:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def test_it_documents_every_url_pattern() -> None:
    problems = undocumented_routes(list(project_routes()), _docs())

    assert problems == [], "\n".join(problems)


def test_it_indexes_every_url_pattern() -> None:
    problems = unindexed_routes(list(project_routes()), INDEX.read_text(encoding="utf-8"))

    assert problems == [], "\n".join(problems)


def test_it_documents_every_websocket_route() -> None:
    docs = _docs()

    missing = [path for path in _websocket_paths() if f"`{path}`" not in docs]

    assert missing == []


def test_it_documents_every_api_operation_and_nothing_else() -> None:
    problems = api_disagreements(api_operations(), API_REFERENCE.read_text(encoding="utf-8"))

    assert problems == [], "\n".join(problems)


def test_it_documents_which_api_operations_are_public() -> None:
    documented = documented_public_operations(API_REFERENCE.read_text(encoding="utf-8"))

    assert documented == public_api_operations()


def test_it_catches_an_operation_documented_public_that_needs_credentials() -> None:
    reference = API_REFERENCE.read_text(encoding="utf-8").replace(
        "| `GET /api/v1/info` | viewer |", "| `GET /api/v1/info` | public |"
    )

    assert documented_public_operations(reference) - public_api_operations() == {("GET", "/api/v1/info")}


def test_it_serves_every_path_of_the_endpoints_table() -> None:
    paths = index_paths(INDEX.read_text(encoding="utf-8"))

    problems = unserved_index_paths(paths, list(project_routes()))

    assert "/metrics" in paths  # the table was read
    assert "/ws/metrics/" in paths
    assert problems == [], "\n".join(problems)


def test_it_walks_the_project_routes_and_leaves_out_the_libraries_pages() -> None:
    paths = {route.path for route in project_routes()}

    assert {"/", "/metrics", "/api/v1/health", "/status/<slug:slug>/badge.svg", "/teams/switch/"} <= paths
    assert {"/sources/<slug>/pause/", "/sources/<slug>/trial/"} <= paths  # the regex pattern, one by one
    assert not any(path.startswith(("/admin/", "/accounts/2fa/", "/accounts/github/")) for path in paths)


def test_it_catches_an_undocumented_url_pattern() -> None:
    docs = _docs().replace("/system/state.json", "/system/state")
    routes = [*project_routes(), Route("/sources/<slug:slug>/synthetic.json", "synthetic")]

    problems = undocumented_routes(routes, docs)

    assert problems == [
        "/system/state.json (system-state): not named in README.md or docs/",
        "/sources/<slug:slug>/synthetic.json (synthetic): not named in README.md or docs/",
    ]


def test_it_catches_an_undocumented_or_a_gone_api_operation() -> None:
    reference = API_REFERENCE.read_text(encoding="utf-8")
    without_row = "\n".join(line for line in reference.splitlines() if not line.startswith("| `DELETE /api/v1/boards/"))
    served = api_operations() - {("GET", "/api/v1/compare")}

    problems = api_disagreements(served, without_row)

    assert problems == [
        "docs/api.md: no row for `DELETE /api/v1/boards/<slug>`",
        "docs/api.md: a row for `GET /api/v1/compare`, which the API does not serve",
    ]


def test_it_catches_an_endpoints_table_path_nothing_serves() -> None:
    paths = ["/system/", "/system/gone.json", "/ws/metrics/", "/manage/status-pages/...", "/gone/<slug>/..."]

    problems = unserved_index_paths(paths, list(project_routes()))

    assert problems == [
        "docs/README.md: the Endpoints table names /system/gone.json, which nothing serves",
        "docs/README.md: the Endpoints table names /gone/<slug>/..., with nothing under it",
    ]


def test_it_catches_a_url_pattern_the_index_leaves_out() -> None:
    index = INDEX.read_text(encoding="utf-8").replace("`/boards/compare/`", "`/boards/comparison/`")
    routes = [*project_routes(), Route("/alerts/synthetic/", "under-a-prefix")]

    problems = unindexed_routes(routes, index)

    assert problems == ["/boards/compare/ (boards-compare): not named in the Endpoints table of docs/README.md"]
