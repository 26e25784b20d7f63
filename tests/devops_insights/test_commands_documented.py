"""Every management command of the project, and each of its options, is documented.

The project's commands are those ``manage.py help`` lists from the project's own apps (``*/management/
commands/``); Django's and the libraries' commands are theirs to document. Each command (each
subcommand of ``config``) has a row in the Commands table of docs/README.md whose first cell shows
its invocation with every option the command's parser accepts, and names no option it does not; a
literal default written there (``--port 8001``) is the parser's default. The page the row links to
for details names the command and every option too, and a literal it shows in brackets after an option
of a ``manage.py`` span (``[--window 30]``) is that option's default. Options Django gives every command
(``--verbosity``, ``--settings``...) are left out; positional arguments are shown by placeholder.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class
from django.core.management.base import BaseCommand

ROOT = Path(__file__).resolve().parents[2]
INDEX = ROOT / "docs" / "README.md"

_ROW_LINK = re.compile(r"\]\(([\w.-]+\.md)(?:#[^)]*)?\)")
_CODE_SPAN = re.compile(r"`([^`]+)`")
# An option in an invocation, and the word after it when that is a literal (a number or an address).
_OPTION = re.compile(r"(?<![\w-])(--?[a-zA-Z][\w-]*)(?:\s+([\d.]+)(?=[\s\]]|$))?")


@dataclass(frozen=True)
class Option:
    spellings: tuple[str, ...]  # "--output", "-o"
    default: object


def _common_options() -> set[str]:
    """The options Django's BaseCommand gives every command."""
    parser = BaseCommand().create_parser("manage.py", "any")
    return {spelling for action in parser._actions for spelling in action.option_strings}


def _options(parser: argparse.ArgumentParser, common: set[str]) -> list[Option]:
    return [
        Option(tuple(action.option_strings), action.default)
        for action in parser._actions
        if action.option_strings and not set(action.option_strings) & common
    ]


def _is_project_app(app: str) -> bool:
    spec = importlib.util.find_spec(app)
    locations = list(spec.submodule_search_locations or []) if spec else []
    return any(Path(location).resolve().is_relative_to(ROOT) and ".venv" not in location for location in locations)


def project_commands() -> dict[str, list[Option]]:
    """Every invocation of the project's commands ("poll", "config plan"), with its options."""
    common = _common_options() | {"-h", "--help"}
    invocations: dict[str, list[Option]] = {}
    for name, app in sorted(get_commands().items()):
        if not isinstance(app, str) or not _is_project_app(app):
            continue
        parser = load_command_class(app, name).create_parser("manage.py", name)
        subcommands = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
        if not subcommands:
            invocations[name] = _options(parser, common)
        for action in subcommands:
            for sub, subparser in action.choices.items():
                invocations[f"{name} {sub}"] = _options(subparser, common)
    return invocations


@dataclass(frozen=True)
class Row:
    invocation: str
    options: dict[str, str | None]  # each option shown, and the literal written after it (if any)
    pages: tuple[str, ...]


def index_rows(text: str, known: set[str]) -> list[Row]:
    """The invocations shown in the first cells of the Commands table of docs/README.md."""
    section = text.split("\n## Commands", 1)[-1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = line.strip().strip("|").split(" | ")
        pages = tuple(_ROW_LINK.findall(cells[-1]))
        for span in _CODE_SPAN.findall(cells[0]):
            words = span.split()
            while words and words[0] in {"python", "manage.py"}:
                words.pop(0)
            if not words:
                continue
            invocation = words[0]
            # A command with subcommands ("config") is shown with one ("config plan"), known or not.
            if len(words) > 1 and any(name.startswith(f"{words[0]} ") for name in known):
                invocation = f"{words[0]} {words[1]}"
            options = {match.group(1): match.group(2) for match in _OPTION.finditer(span)}
            rows.append(Row(invocation, options, pages))
    return rows


def _mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def _same(literal: str, default: object) -> bool:
    if isinstance(default, int | float) and not isinstance(default, bool):
        return float(literal) == float(default)
    return literal == str(default)


def _wrong_page_defaults(page: str, text: str, invocation: str, option: Option) -> list[str]:
    """A literal shown as an optional argument's value in a page's ``manage.py`` span is its default."""
    problems = []
    for span in _CODE_SPAN.findall(text):
        if not re.search(rf"manage\.py {re.escape(invocation)}(?![\w-])", span):
            continue
        for spelling, literal in re.findall(r"\[(--?[a-zA-Z][\w-]*) ([\d.]+)\]", span):
            if spelling in option.spellings and option.default is not None and not _same(literal, option.default):
                problems.append(
                    f"docs/{page}: `manage.py {invocation}` shows [{spelling} {literal}], "
                    f"but its default is {option.default}"
                )
    return problems


def disagreements(commands: dict[str, list[Option]], index_text: str, pages: dict[str, str]) -> list[str]:
    """One line per command, option or default the docs leave out, get wrong or name without a command."""
    problems: list[str] = []
    rows = index_rows(index_text, set(commands))
    for invocation, options in commands.items():
        shown = [row for row in rows if row.invocation == invocation]
        if not shown:
            problems.append(f"docs/README.md: no row of the Commands table shows `manage.py {invocation}`")
            continue
        for row in shown:
            for option in options:
                named = [spelling for spelling in option.spellings if spelling in row.options]
                if not named:
                    problems.append(f"docs/README.md: `manage.py {invocation}` does not show {option.spellings[0]}")
                for spelling in named:
                    literal = row.options[spelling]
                    if literal is not None and option.default is not None and not _same(literal, option.default):
                        problems.append(
                            f"docs/README.md: `manage.py {invocation}` shows {spelling} {literal}, "
                            f"but its default is {option.default}"
                        )
            accepted = {spelling for option in options for spelling in option.spellings}
            for spelling in sorted(set(row.options) - accepted):
                problems.append(f"docs/README.md: `manage.py {invocation}` shows {spelling}, which it does not accept")
            if not row.pages:
                problems.append(f"docs/README.md: the row of `manage.py {invocation}` links to no page with details")
            for page in row.pages:
                text = pages.get(page, "")
                name = invocation.split()[-1]
                if not _mentions(text, name):
                    problems.append(f"docs/{page}: does not name `{invocation}`, which docs/README.md sends there")
                for option in options:
                    if not any(_mentions(text, spelling) for spelling in option.spellings):
                        problems.append(f"docs/{page}: does not describe {option.spellings[0]} of `{invocation}`")
                    problems += _wrong_page_defaults(page, text, invocation, option)
    for row in rows:
        if row.invocation not in commands:
            problems.append(f"docs/README.md: shows `manage.py {row.invocation}`, which the project has no command for")
    return problems


def _pages() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in (ROOT / "docs").glob("*.md")}


def test_it_documents_every_project_command_and_option() -> None:
    commands = project_commands()

    problems = disagreements(commands, INDEX.read_text(encoding="utf-8"), _pages())

    assert problems == [], "\n".join(problems)


def test_it_finds_the_project_commands_and_only_those() -> None:
    commands = project_commands()

    assert {"poll", "runstack", "config export", "config plan", "config apply", "reencrypt_secrets"} <= set(commands)
    assert "migrate" not in commands  # Django's, documented by Django
    assert [option.spellings for option in commands["export_metrics"]] == [("--output", "-o"), ("--source",)]


def test_it_catches_a_command_without_a_row() -> None:
    index = INDEX.read_text(encoding="utf-8")
    without_row = "\n".join(line for line in index.splitlines() if "`manage.py send_reports" not in line)

    problems = disagreements(project_commands(), without_row, _pages())

    assert problems == ["docs/README.md: no row of the Commands table shows `manage.py send_reports`"]


def test_it_catches_an_option_the_docs_leave_out() -> None:
    index = INDEX.read_text(encoding="utf-8").replace("[--concurrency N] ", "")
    pages = _pages()
    pages["polling.md"] = pages["polling.md"].replace("--concurrency", "--in-flight")

    problems = disagreements(project_commands(), index, pages)

    assert problems == [
        "docs/README.md: `manage.py poll` does not show --concurrency",
        "docs/polling.md: does not describe --concurrency of `poll`",
    ]


def test_it_catches_an_option_the_command_does_not_accept() -> None:
    commands = project_commands()
    commands["prune"] = [option for option in commands["prune"] if option.spellings != ("--dry-run",)]

    problems = disagreements(commands, INDEX.read_text(encoding="utf-8"), _pages())

    assert problems == ["docs/README.md: `manage.py prune` shows --dry-run, which it does not accept"]


def test_it_catches_a_wrong_default() -> None:
    index = INDEX.read_text(encoding="utf-8").replace("[--port 8001]", "[--port 8002]")

    problems = disagreements(project_commands(), index, _pages())

    assert problems == ["docs/README.md: `manage.py simulate_upstream` shows --port 8002, but its default is 8001"]


def test_it_catches_a_wrong_default_on_the_details_page() -> None:
    pages = _pages()
    pages["polling.md"] = pages["polling.md"].replace("[--window 30]", "[--window 60]")

    problems = disagreements(project_commands(), INDEX.read_text(encoding="utf-8"), pages)

    assert problems == ["docs/polling.md: `manage.py simulate_upstream` shows [--window 60], but its default is 30.0"]


@pytest.mark.parametrize("invocation", ["config apply", "ensure_indexes"])
def test_it_catches_a_documented_command_that_is_gone(invocation: str) -> None:
    commands = project_commands()
    del commands[invocation]

    problems = disagreements(commands, INDEX.read_text(encoding="utf-8"), _pages())

    assert f"docs/README.md: shows `manage.py {invocation}`, which the project has no command for" in problems
