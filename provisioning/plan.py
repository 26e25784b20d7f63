"""A plan: what applying the files would create, change (field by field) and delete; every problem at once.

Made in four steps, with a number of queries that does not depend on how many objects there are: the
files' shape (unknown keys, types, duplicates), the stored objects (one load per section; stored objects
sharing a natural key the files speak for are a problem, as the files cannot tell them apart), each item's
references, secrets and model validation (only for items that differ from what is stored), and, with
``prune``, the stored objects the files no longer describe. Secrets are compared, never shown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from provisioning import secrets
from provisioning.context import Context, Skip
from provisioning.document import Document, load
from provisioning.problems import ConfigInvalid, Path, Problem
from provisioning.sections import BY_NAME, SECTIONS
from provisioning.sections.base import Built, Key, Section, type_problem

CREATE, UPDATE, DELETE = "create", "change", "delete"
SYMBOLS = {CREATE: "+", UPDATE: "~", DELETE: "-"}
SHOWN_CHARS = 200


@dataclass(frozen=True)
class FieldChange:
    key: str
    old: Any  # redacted
    new: Any  # redacted


@dataclass
class Change:
    section: str
    key: Key
    label: str
    action: str
    fields: list[FieldChange] = field(default_factory=list)
    teams: set[str | None] = field(default_factory=set)  # owners before and after (None: global)
    built: Built | None = None
    stored: Any = None


@dataclass
class Plan:
    changes: list[Change]
    kept: dict[str, int]  # per section: stored objects not in the files, kept because there is no --prune
    scope_teams: set[str]
    global_items: bool  # the files describe global objects (flags, the global retention policy)
    context: Context

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def counts(self) -> dict[str, int]:
        return {action: sum(1 for c in self.changes if c.action == action) for action in (CREATE, UPDATE, DELETE)}

    def teams(self) -> set[str | None]:
        """Every team the plan reads or writes (None: global objects, for superusers only)."""
        found: set[str | None] = set(self.scope_teams)
        for change in self.changes:
            found |= change.teams
        if self.global_items:
            found.add(None)
        return found

    def summary(self, limit: int | None = None) -> dict[str, Any]:
        """The plan as plain data (secrets redacted): the audit trail's detail and the API's answer.

        ``limit`` bounds the changes listed (the counts stay whole): an audit record stays a readable size.
        """
        shown = self.changes if limit is None else self.changes[:limit]
        return {
            "omitted": len(self.changes) - len(shown),
            "counts": self.counts(),
            "changes": [
                {
                    "action": c.action,
                    "section": c.section,
                    "key": c.label,
                    "fields": {f.key: {"old": f.old, "new": f.new} for f in c.fields} if c.action == UPDATE else {},
                }
                for c in shown
            ],
            "kept": {name: count for name, count in self.kept.items() if count},
        }

    def render(self) -> str:
        lines: list[str] = []
        for change in self.changes:
            lines.append(f"{SYMBOLS[change.action]} {change.action} {change.section} {change.label}")
            for item in change.fields:
                if change.action == CREATE:
                    lines.append(f"    {item.key}: {_shown(item.new)}")
                else:
                    lines.append(f"    {item.key}: {_shown(item.old)} -> {_shown(item.new)}")
        counts = self.counts()
        lines.append(
            f"Plan: {counts[CREATE]} to create, {counts[UPDATE]} to change, {counts[DELETE]} to delete."
            if self.changes
            else "No changes: the stored setup matches the files."
        )
        kept = sum(self.kept.values())
        if kept:
            lines.append(f"{kept} stored object(s) in scope are not in the files: kept (--prune deletes them).")
        return "\n".join(lines) + "\n"


def claimed_teams(files: Mapping[str, str]) -> set[str | None]:
    """The teams the files' items name (None: they describe objects of no team), read before any plan, so
    that who may not act on them learns nothing of what is stored (``api.config_views``)."""
    document = load(files, BY_NAME)
    claimed: set[str | None] = set()
    for section in SECTIONS:
        for item in document.sections.get(section.name, []):
            if not isinstance(item, dict):
                continue
            if section.item_is_global(item):
                claimed.add(None)
            elif section.name == "teams" and isinstance(item.get("slug"), str):
                claimed.add(item["slug"])
            elif section.teamed:
                claimed.add(section.item_team(item))
    return claimed


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def make_plan(files: Mapping[str, str], *, prune: bool = False, environ: Mapping[str, str] | None = None) -> Plan:
    """The plan for ``files`` ({name: YAML text}); ConfigInvalid with every problem when there is any."""
    document = load(files, BY_NAME)
    ctx = Context(document, environ=environ, prune=prune)
    problems: list[Problem] = list(document.problems)
    valid = _shape(document, ctx, problems)
    for section in SECTIONS:
        ctx.stored[section.name] = section.load(ctx)
    problems.extend(_twins(document, ctx))
    kept = _doom(document, ctx)
    changes: list[Change] = []
    for section in SECTIONS:
        ctx.described[section.name] = {}
        for index, item in valid.get(section.name, []):
            change = _describe(section, index, item, ctx, problems)
            if change is not None:
                changes.append(change)
    for section in reversed(SECTIONS):
        for key in sorted(ctx.doomed.get(section.name, set())):
            stored = ctx.stored[section.name][key]
            changes.append(
                Change(section.name, key, section.describe(key), DELETE, teams={section.team_of(stored)}, stored=stored)
            )
    if problems:
        raise ConfigInvalid(problems)
    global_items = any(section.item_is_global(item) for section in SECTIONS for _i, item in valid.get(section.name, []))
    return Plan(changes, kept, ctx.scope_teams, global_items, ctx)


def _shape(document: Document, ctx: Context, problems: list[Problem]) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Unknown keys, missing keys, types and duplicate natural keys; the items that pass, by section."""
    valid: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for section in SECTIONS:
        keys = {spec.key: spec for spec in section.fields}
        seen: dict[Key, int] = {}
        ctx.declared[section.name] = set()
        ctx.declared_at[section.name] = seen
        for index, item in enumerate(document.sections.get(section.name, [])):
            path: Path = (section.name, index)
            if not isinstance(item, dict):
                problems.append(document.problem(path, f"must be a mapping with the keys: {', '.join(keys)}"))
                continue
            found: list[Problem] = []
            # Unknown keys are reported, and the rest of the item is still checked, so one run lists it all.
            for key in item:
                if key not in keys:
                    problems.append(document.problem((*path, key), f"unknown key (known: {', '.join(keys)})"))
            item = {key: value for key, value in item.items() if key in keys}
            for spec in section.fields:
                if spec.key not in item:
                    if spec.required:
                        found.append(document.problem(path, f"missing the required key {spec.key!r}"))
                elif (message := type_problem(spec, item[spec.key])) is not None:
                    found.append(document.problem((*path, spec.key), message))
            key_ok = all(
                f.key not in item or type_problem(f, item[f.key]) is None
                for f in section.fields
                if f.key in section.key_fields
            ) and all(f in item or not section.field(f).required for f in section.key_fields)
            if key_ok:
                natural = section.item_key(item)
                if natural in seen:
                    first = document.mark((section.name, seen[natural]))
                    found.append(
                        document.problem(
                            (*path, section.key_fields[-1]),
                            f"{section.describe(natural)} is described twice (also at {first.file}:{first.line})",
                        )
                    )
                    key_ok = False
                else:
                    seen[natural] = index
                    ctx.declared[section.name].add(natural)
            if section.teamed and isinstance(item.get("team", ""), str):
                ctx.scope_teams.add(str(section.item_team(item, ctx)))
            if section.name == "teams" and isinstance(item.get("slug"), str):
                ctx.scope_teams.add(item["slug"])
            problems.extend(found)
            if not found:
                valid.setdefault(section.name, []).append((index, item))
    return valid


def _speaks_globally(document: Document, section: Section) -> bool:
    """Whether the files describe a global object of ``section``: only then are its global objects in scope
    (a team's export names the retention section for its sources' policies: the global default is not its)."""
    items = [item for item in document.sections.get(section.name, []) if isinstance(item, dict)]
    return any(section.item_is_global(item) for item in items)


def _twins(document: Document, ctx: Context) -> list[Problem]:
    """Stored objects sharing a natural key, where the files speak for them: a problem each key.

    The files name one object per key, so they cannot say which of the twins an item changes, nor that the
    others are gone (--prune would delete one, keep the rest, and the next plan find the files and stored
    state to differ again). Where the files speak for them: the item naming the key, or a section the files
    name in the teams they speak for (as --prune's scope), so an empty ``silences: []`` does not plan "no
    changes" over twins either.
    """
    found: list[Problem] = []
    for section in SECTIONS:
        if section.name not in document.present:
            continue
        speaks_globally = _speaks_globally(document, section)
        for key, twins in sorted(ctx.twins.get(section.name, {}).items()):
            index = ctx.declared_at[section.name].get(key)
            team = section.team_of(twins[0])
            if index is None and not (team in ctx.scope_teams if team is not None else speaks_globally):
                continue
            path: Path = (section.name,) if index is None else (section.name, index, section.key_fields[-1])
            found.append(document.problem(path, section.twins_message(key, twins)))
    return found


def _doom(document: Document, ctx: Context) -> dict[str, int]:
    """What --prune deletes (or, without it, keeps): stored objects of the sections the files name, in the
    teams the files speak for (global objects: when the files describe one of the section's), that the files
    do not describe."""
    kept: dict[str, int] = {}
    for section in SECTIONS:
        ctx.doomed[section.name] = set()
        if not section.prunable or section.name not in document.present:
            continue
        speaks_globally = _speaks_globally(document, section)
        for key, stored in ctx.stored[section.name].items():
            team = section.team_of(stored)
            in_scope = team in ctx.scope_teams if team is not None else speaks_globally
            if key in ctx.declared[section.name] or not in_scope or not section.prunes(stored):
                continue
            if ctx.prune:
                ctx.doomed[section.name].add(key)
            else:
                kept[section.name] = kept.get(section.name, 0) + 1
    return kept


def _describe(
    section: Section, index: int, item: dict[str, Any], ctx: Context, problems: list[Problem]
) -> Change | None:
    document = ctx.document
    path: Path = (section.name, index)
    found: list[Problem] = []

    def add(where: Any, message: str) -> None:
        sub = () if where in ("", None) else where if isinstance(where, tuple) else (where,)
        found.append(document.problem((*path, *sub), message))

    resolved: dict[tuple[str, ...], str] = {}
    missing: set[str] = set()  # keys whose secret is missing: the model's complaint about them would be noise
    for sub, written in section.references(item):
        try:
            resolved[sub] = secrets.resolve(secrets.parse(written), ctx.environ)
        except secrets.SecretProblem as exc:
            add(sub, str(exc))
            missing.add(sub[0])
    unresolved = bool(found)  # a missing secret still lets the model check the rest of the item
    references_ok = True
    for where, message in section.check(item, ctx):
        add(where, message)
        references_ok = False
    if not references_ok:
        problems.extend(found)
        return None
    values = section.desired(item, resolved)
    key = section.key_of(values)
    stored = ctx.stored[section.name].get(key)
    current = section.actual(stored, ctx) if stored is not None else None
    if current is not None:
        differing = [spec.key for spec in section.fields if values[spec.key] != current[spec.key]]
        if not differing:
            ctx.described[section.name][key] = stored
            return None
    old_team = section.team_of(stored) if stored is not None else None
    try:
        built = section.build(stored, values, ctx)
    except Skip:
        return None
    for where, message in built.problems + section.clean(built):
        if where not in missing:
            add(where, message)
    if found or unresolved:
        problems.extend(found)
        return None
    ctx.described[section.name][key] = built.instance
    label = section.describe(key)
    teams = {section.team_of(built.instance)}
    if current is None:
        shown = section.exported_values(values)
        fields = [FieldChange(k, None, section.redact(k, v)) for k, v in shown.items()]
        return Change(section.name, key, label, CREATE, fields, teams, built)
    teams.add(old_team)
    fields = [FieldChange(k, section.redact(k, current[k]), section.redact(k, values[k])) for k in differing]
    return Change(section.name, key, label, UPDATE, fields, teams, built, stored)
