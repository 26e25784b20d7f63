"""Arrows point down: no module of an app imports an app above it (every import, including those inside functions).

Floors, lowest first (checked against the code; where a rule is looser or stricter than a plain stack,
the comment says why):

- ``observability``: instrumentation (metrics, traces, logs, request ids); imports no project app.
- ``metrics``: the stores, extraction, rollups and their JSON shape; imports only ``observability``.
- ``accounts``: users, teams, roles, tokens, login pages, request rate limits and the audit trail. May
  import ``metrics`` and ``observability``. It sits below ``pollers`` because teams own sources: a
  source's team is a foreign key to ``accounts.Team``, and the one access rule (``accounts.teams``)
  filters every app's querysets.
- ``pollers``: the poller and the source registry; may import ``accounts``, ``metrics``, ``observability``.
- ``objectives``: service level objectives, error budgets, burn rates and reports; reads sources and the
  metric store, so it sits on ``pollers`` and ``accounts``; ``alerts`` builds its burn-rate rule kind on it.
- ``realtime`` and ``alerts``: listeners on what the poller announces. May import everything above this
  line, not each other, except for ``EXCEPTIONS`` below.
- ``statuspages`` and ``boards``: public status pages; custom dashboards and annotations. May import
  every floor above, not each other.
- ``provisioning``: configuration as code; it reads and writes the models of every floor above.
- ``dashboard`` and ``api``: the two faces; may import everything below, not each other.
- ``devops_insights``: the composition root (settings, urls, asgi, routing, runstack); may import anything.
  Its ``config`` (typed environment readers), its ``crypto`` (the one key ring for secrets stored by any
  app, ``FIELD_ENCRYPTION_KEY``), its ``cache_generation`` (invalidation of per-process snapshots through
  the shared cache), its ``shared_cache`` (the cache every process shares: Redis, else the database), its
  ``db_errors`` (a busy pool told from a dropped connection), its ``db_clock`` (the database's clock
  for expiries that hosts compare), its ``request_slots`` (a web process's request slots), its ``collector`` (the
  garbage collector's tuning for long-running processes, web and poller, and ``detached``: an exception kept without
  the frames it holds), its ``stack_dump`` (every thread's
  stack on SIGUSR1), its ``naming`` (``name (2)``: a chosen name that must not take a natural key), its
  ``working_copy`` (an edit form, the admin's included, validates a copy of the stored object: ``metrics``' admin is
  built on it as every app's) and its package ``__init__`` (only ``__version__``) are the ground floor every app
  may import; they import no project app themselves but the ground floor (checked below).

Migrations are left out: they are frozen history, and Django resolves them by app label, not by import.
Imports given as strings (settings' MIDDLEWARE, ``import_string``) are not followed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BASEMENT = frozenset({"observability"})
MAY_IMPORT: dict[str, frozenset[str]] = {
    "observability": frozenset(),
    "metrics": BASEMENT,
    "accounts": BASEMENT | {"metrics"},
    "pollers": BASEMENT | {"metrics", "accounts"},
    "objectives": BASEMENT | {"metrics", "pollers", "accounts"},
    "realtime": BASEMENT | {"metrics", "pollers", "accounts", "objectives"},
    "alerts": BASEMENT | {"metrics", "pollers", "accounts", "objectives"},
    "statuspages": BASEMENT | {"metrics", "pollers", "accounts", "objectives", "realtime", "alerts"},
    "boards": BASEMENT | {"metrics", "pollers", "accounts", "objectives", "realtime", "alerts"},
    "provisioning": BASEMENT
    | {"metrics", "pollers", "accounts", "objectives", "realtime", "alerts", "statuspages", "boards"},
    "dashboard": BASEMENT
    | {"metrics", "pollers", "accounts", "objectives", "realtime", "alerts", "statuspages", "boards", "provisioning"},
    "api": BASEMENT
    | {"metrics", "pollers", "accounts", "objectives", "realtime", "alerts", "statuspages", "boards", "provisioning"},
    "devops_insights": BASEMENT
    | {
        "metrics",
        "pollers",
        "accounts",
        "objectives",
        "realtime",
        "alerts",
        "statuspages",
        "boards",
        "provisioning",
        "dashboard",
        "api",
    },
}
APPS = tuple(MAY_IMPORT)
GROUND_FLOOR = frozenset(
    {
        "devops_insights",
        "devops_insights.config",
        "devops_insights.crypto",
        "devops_insights.cache_generation",
        "devops_insights.shared_cache",
        "devops_insights.db_errors",
        "devops_insights.db_clock",
        "devops_insights.request_slots",
        "devops_insights.collector",
        "devops_insights.stack_dump",
        "devops_insights.naming",
        "devops_insights.working_copy",
    }
)

# (importing app, imported module) -> why this one arrow across a floor is right.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("realtime", "alerts.signals"): (
        "realtime delivers what alerting announces: it connects to alerts.signals (that module only, "
        "which imports nothing of alerts), as it connects to pollers.signals"
    ),
}


@dataclass(frozen=True)
class Arrow:
    path: str  # relative to the root, with forward slashes
    line: int
    importer: str  # the importing app
    imported: str  # the imported module, as precise as the import statement says

    def __str__(self) -> str:
        allowed = ", ".join(sorted(MAY_IMPORT[self.importer])) or "no project app"
        return f"{self.path}:{self.line} imports {self.imported} ({self.importer} may import: {allowed})"


def modules(root: Path, app: str) -> Iterator[Path]:
    for path in sorted((root / app).rglob("*.py")):
        if "migrations" not in path.relative_to(root).parts:
            yield path


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(root: Path, path: Path) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports, anywhere in it; ``from a import b`` gives ``a.b`` when that is a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(root, path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                as_path = root / Path(*candidate.split("."))
                is_module = as_path.with_suffix(".py").is_file() or (as_path / "__init__.py").is_file()
                yield node.lineno, candidate if is_module else base


def arrows(root: Path) -> Iterator[Arrow]:
    """Every import from one project app into another."""
    for app in APPS:
        for path in modules(root, app):
            for line, imported in imported_modules(root, path):
                target = imported.split(".")[0]
                if target in APPS and target != app:
                    yield Arrow(path.relative_to(root).as_posix(), line, app, imported)


def is_allowed(arrow: Arrow) -> bool:
    target = arrow.imported.split(".")[0]
    if target in MAY_IMPORT[arrow.importer] or arrow.imported in GROUND_FLOOR:
        return True
    return any(
        importer == arrow.importer and (arrow.imported == module or arrow.imported.startswith(module + "."))
        for importer, module in EXCEPTIONS
    )


def upward(root: Path, allowlist: frozenset[tuple[str, str]] = frozenset()) -> list[Arrow]:
    return [a for a in arrows(root) if not is_allowed(a) and (a.path, a.imported) not in allowlist]


def test_it_finds_no_import_of_a_higher_layer() -> None:
    found = upward(ROOT)
    assert not found, "imports of a higher layer:\n" + "\n".join(str(arrow) for arrow in found)


def test_it_finds_the_ground_floor_importing_no_project_app() -> None:
    for name in sorted(GROUND_FLOOR):
        path = ROOT / Path(*name.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        imported = {
            module
            for _line, module in imported_modules(ROOT, path)
            if module.split(".")[0] in APPS and module not in GROUND_FLOOR
        }
        assert not imported, f"{name} is on the ground floor but imports {sorted(imported)}"


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_it_catches_an_upward_import_even_inside_a_function(tmp_path: Path) -> None:
    for app in APPS:
        write(tmp_path, f"{app}/__init__.py", "")
    write(tmp_path, "realtime/events.py", "def publish_update() -> None: ...\n")
    write(tmp_path, "alerts/signals.py", "")
    write(tmp_path, "devops_insights/config.py", "")
    write(
        tmp_path,
        "pollers/engine.py",
        "from metrics import stores\n"
        "from devops_insights import config\n"
        "\n"
        "def publish() -> None:\n"
        "    from realtime.events import publish_update\n",
    )
    write(tmp_path, "pollers/migrations/0001_initial.py", "import api\n")  # migrations are left out
    write(tmp_path, "realtime/apps.py", "from alerts import signals\n")  # the one written exception
    write(tmp_path, "alerts/engine.py", "from . import signals\nfrom ..api import views\n")
    write(tmp_path, "observability/collectors.py", "import pollers.models\n")

    found = {str(arrow) for arrow in upward(tmp_path)}
    collector = "observability/collectors.py:1 imports pollers.models (observability may import: no project app)"
    assert found == {
        "pollers/engine.py:5 imports realtime.events (pollers may import: accounts, metrics, observability)",
        "alerts/engine.py:2 imports api (alerts may import: accounts, metrics, objectives, observability, pollers)",
        collector,
    }
    allowlisted = upward(tmp_path, frozenset({("observability/collectors.py", "pollers.models")}))
    assert {str(arrow) for arrow in allowlisted} == found - {collector}
