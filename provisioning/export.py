"""Export: the stored setup as configuration files, one per section, in a fixed order, secrets as references.

Objects are sorted by natural key and fields follow the section's declaration, with defaults left out, so
that export -> apply changes nothing and export -> apply on an empty database -> export gives the same bytes.
Stored objects that share a natural key (where the database did not hold it unique: restored without its
constraint) cannot all be written, a file naming one object per key: the export is refused, naming them, rather than
written without some of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from provisioning.context import Context
from provisioning.document import Document
from provisioning.sections import SECTIONS

HEADER = "# DevOps Insights configuration (docs/config-as-code.md). Secrets are references, never values.\n"


class SharedKeys(Exception):
    """Stored objects share a natural key: nothing is exported (``problems``: one line per shared key)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Dumper(yaml.SafeDumper):
    """Block style, and lists indented under their key, as people write them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def export_sections(team: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """{section name: its items as written in a file}: every section (global ones only without ``team``);
    SharedKeys when stored objects share a natural key (in ``team``, when given)."""
    ctx = Context(Document())
    sections: dict[str, list[dict[str, Any]]] = {}
    shared: list[str] = []
    for section in SECTIONS:
        if team is not None and not section.teamed and section.name not in ("teams", "retention"):
            continue  # global objects (flags) belong to no team's export
        stored = section.load(ctx)
        ctx.stored[section.name] = stored
        for key, twins in sorted(ctx.twins[section.name].items()):
            if team is None or section.team_of(twins[0]) == team:
                shared.append(f"{section.name}: {section.twins_message(key, twins)}")
        items = []
        for key in sorted(stored):
            obj = stored[key]
            owner = section.team_of(obj)
            if team is not None and owner != team:
                continue
            items.append(section.exported(obj, ctx))
        sections[section.name] = items
    if shared:
        raise SharedKeys(shared)
    return sections


def _dump(document: dict[str, Any]) -> str:
    return HEADER + yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100_000
    )


def export_files(team: str | None = None) -> dict[str, str]:
    """{file name: YAML text}, one file per section (``export_sections``)."""
    return {f"{name}.yaml": _dump({"version": 1, name: items}) for name, items in export_sections(team).items()}


def export_text(team: str | None = None) -> str:
    """Every section in one YAML file (what ``config export`` prints without ``-o``): one ``version``, so that
    the printed text saved as a file is a valid input of ``config plan -f``."""
    return _dump({"version": 1, **export_sections(team)})


def write_directory(files: dict[str, str], directory: str | Path) -> list[Path]:
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = root / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
