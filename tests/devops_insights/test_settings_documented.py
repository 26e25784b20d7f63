"""The settings, `.env.example` and docs/configuration.md name the same environment variables.

The settings read every variable through a reader of ``devops_insights.config`` (``config.integer(
"NAME", ...)``); this test finds those calls with ``ast``, so a variable read in a branch that no
test environment takes is found too. `.env.example` lists one ``NAME=default`` line per variable;
docs/configuration.md names each variable in backticks in the first cell of a table row.
"""

from __future__ import annotations

import ast
import re
import runpy
from collections import Counter
from pathlib import Path

import pytest

from devops_insights import config

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "devops_insights" / "settings.py"
CONFIG = ROOT / "devops_insights" / "config.py"
ENV_EXAMPLE = ROOT / ".env.example"
REFERENCE = ROOT / "docs" / "configuration.md"

_VARIABLE = re.compile(r"[A-Z][A-Z0-9_]*")
_ENV_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=")
_BACKTICKED = re.compile(r"`([A-Z][A-Z0-9_]*)`")


def reader_names(config_source: str) -> set[str]:
    """The public functions of devops_insights/config.py that read one variable: first parameter ``name``."""
    readers = set()
    for node in ast.parse(config_source).body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            params = node.args.posonlyargs + node.args.args
            if params and params[0].arg == "name":
                readers.add(node.name)
    return readers


def _reads_environment_directly(node: ast.AST) -> bool:
    """``os.environ[...]``, ``os.environ.get(...)`` or ``os.getenv(...)``: a read that bypasses the readers."""

    def is_os_environ(expr: ast.AST) -> bool:
        return (
            isinstance(expr, ast.Attribute)
            and expr.attr == "environ"
            and isinstance(expr.value, ast.Name)
            and expr.value.id == "os"
        )

    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and is_os_environ(node.value):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        func = node.func
        if func.attr == "get" and is_os_environ(func.value):
            return True
        if func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os":
            return True
    return False


def settings_variables(settings_source: str, config_source: str) -> tuple[set[str], list[str]]:
    """Every variable the settings read (the settings' reader calls and the readers' own), and problems."""
    readers = reader_names(config_source)
    names: set[str] = set()
    problems: list[str] = []
    tree = ast.parse(settings_source)
    # Readers imported by name (`from devops_insights.config import integer`) count as well.
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "devops_insights.config"
        for alias in node.names
        if alias.name in readers
    }
    for node in ast.walk(tree):
        if _reads_environment_directly(node):
            problems.append(
                f"devops_insights/settings.py line {node.lineno}: reads the environment directly; "
                "use a devops_insights.config reader so the variable is checked and documented"
            )
            continue
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        is_reader = (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "config"
            and func.attr in readers
        ) or (isinstance(func, ast.Name) and func.id in imported)
        if not is_reader:
            continue
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str) and _VARIABLE.fullmatch(first.value):
            names.add(first.value)
        else:
            problems.append(
                f"devops_insights/settings.py line {node.lineno}: a reader call whose variable name is not "
                "a literal upper-case string, so it cannot be checked against the documentation"
            )
    # Readers that read a further variable themselves (config.database reads DATABASE_CONN_MAX_AGE).
    for node in ast.walk(ast.parse(config_source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in readers and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names, problems


def env_example_variables(text: str) -> tuple[list[str], list[str]]:
    """The ``NAME=`` lines of .env.example, in order, and the lines that are neither that nor a comment."""
    names: list[str] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ENV_LINE.match(stripped)
        if match:
            names.append(match.group(1))
        else:
            problems.append(f".env.example line {number}: neither a comment nor NAME=value: {stripped!r}")
    return names, problems


def reference_variables(text: str) -> list[str]:
    """Variables named in backticks in the first cell of a table row of docs/configuration.md."""
    names: list[str] = []
    in_fence = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence or not stripped.startswith("|"):
            continue
        first_cell = stripped.strip("|").split("|", 1)[0]
        names.extend(_BACKTICKED.findall(first_cell))
    return names


def disagreements(settings_source: str, config_source: str, env_text: str, reference_text: str) -> list[str]:
    """One line per variable missing from, extra in, or repeated in .env.example and docs/configuration.md."""
    read, problems = settings_variables(settings_source, config_source)
    env_names, env_problems = env_example_variables(env_text)
    problems += env_problems
    places = {".env.example": env_names, "docs/configuration.md": reference_variables(reference_text)}
    for place, listed in places.items():
        for name in sorted(read - set(listed)):
            problems.append(f"{place}: missing {name}, which devops_insights/settings.py reads")
        for name in sorted(set(listed) - read):
            problems.append(f"{place}: lists {name}, which devops_insights/settings.py does not read")
        for name, count in sorted(Counter(listed).items()):
            if count > 1:
                problems.append(f"{place}: lists {name} {count} times")
    return problems


def _sources() -> tuple[str, str, str, str]:
    return (
        SETTINGS.read_text(encoding="utf-8"),
        CONFIG.read_text(encoding="utf-8"),
        ENV_EXAMPLE.read_text(encoding="utf-8"),
        REFERENCE.read_text(encoding="utf-8"),
    )


def test_it_documents_every_variable_the_settings_read_and_nothing_else() -> None:
    problems = disagreements(*_sources())
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {
            "REDIS_URL": "redis://127.0.0.1:6379/4",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/docs_settings",
            "MONGODB_URL": "mongodb://127.0.0.1:27017",
            "DJANGO_BEHIND_TLS_PROXY": "true",
            "CSP_REPORT_ONLY": "true",
            "REALTIME_CHANNEL_LAYER": "redis",
        },
    ],
    ids=["embedded", "real-components"],
)
def test_it_finds_every_variable_the_settings_read_at_import(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The static extraction is checked against what the readers are really asked for at import time."""
    asked: list[str] = []
    real_raw = config._raw

    def recording_raw(name: str) -> str | None:
        asked.append(name)
        return real_raw(name)

    monkeypatch.setattr(config, "_raw", recording_raw)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    runpy.run_path(str(SETTINGS))  # no connection is made at import: the settings only read and validate

    found, problems = settings_variables(SETTINGS.read_text(encoding="utf-8"), CONFIG.read_text(encoding="utf-8"))
    assert problems == []
    assert asked, "the settings asked the readers for nothing: the recording hook is not in place"
    assert set(asked) - found == set()


def test_it_catches_a_variable_the_settings_read_but_nobody_documents() -> None:
    settings_source, config_source, env_text, reference_text = _sources()
    settings_source += '\nSYNTHETIC_SETTING = config.integer("SYNTHETIC_UNDOCUMENTED_VARIABLE", 1, minimum=0)\n'

    problems = disagreements(settings_source, config_source, env_text, reference_text)

    assert ".env.example: missing SYNTHETIC_UNDOCUMENTED_VARIABLE, which devops_insights/settings.py reads" in problems
    assert (
        "docs/configuration.md: missing SYNTHETIC_UNDOCUMENTED_VARIABLE, which devops_insights/settings.py reads"
        in problems
    )


def test_it_catches_a_documented_variable_the_settings_do_not_read() -> None:
    settings_source, config_source, env_text, reference_text = _sources()
    env_text += "\nSYNTHETIC_STALE_VARIABLE=1\n"
    reference_text += "\n| `SYNTHETIC_STALE_VARIABLE` | `1` | nothing reads it |\n"

    problems = disagreements(settings_source, config_source, env_text, reference_text)

    assert ".env.example: lists SYNTHETIC_STALE_VARIABLE, which devops_insights/settings.py does not read" in problems
    assert (
        "docs/configuration.md: lists SYNTHETIC_STALE_VARIABLE, which devops_insights/settings.py does not read"
        in problems
    )


def test_it_catches_a_variable_listed_twice_and_a_malformed_env_line() -> None:
    settings_source, config_source, env_text, reference_text = _sources()
    env_text += "\nLOG_LEVEL=debug\nnot a variable\n"

    problems = disagreements(settings_source, config_source, env_text, reference_text)

    assert ".env.example: lists LOG_LEVEL 2 times" in problems
    assert any(p.startswith(".env.example line") and "'not a variable'" in p for p in problems)


@pytest.mark.parametrize(
    "line",
    [
        'NAME = config.string(f"{VAR_DIR}_X", "")',
        'NAME = os.environ.get("SOMETHING")',
        'NAME = os.environ["SOMETHING"]',
        'NAME = os.getenv("SOMETHING")',
    ],
)
def test_it_refuses_a_read_it_cannot_check(line: str) -> None:
    settings_source, config_source, _, _ = _sources()

    _, problems = settings_variables(settings_source + "\n" + line + "\n", config_source)

    assert len(problems) == 1
    assert problems[0].startswith("devops_insights/settings.py line ")
