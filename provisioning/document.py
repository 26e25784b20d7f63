"""Reading configuration files: YAML (safe, libyaml when present), one or many files merged, lines remembered.

Every node's line is kept by its path, so a problem found later (a bad value, a model's validation) still
names the file and line it came from. Tags (``!include``, ``!!python/...``) and anchors/aliases are refused:
the files must say plainly what they mean, and an alias could make a small file expand without bound.
Files are merged in name order; each top-level section's list continues across files, so the paths of
problems (``sources[3]``) count in the merged list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from provisioning.problems import ConfigInvalid, Path, Problem, dotted

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
STR_TAG = "tag:yaml.org,2002:str"
# Plain scalars starting with a letter resolve to a string unless they are one of these (YAML 1.1 booleans
# and null, as PyYAML's resolver reads them); numbers and times start with a digit, a sign or a dot.
_WORDS_NOT_STRINGS = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null"})


class Loader(_BaseLoader):
    """The safe loader, with a shortcut past the implicit resolver's regular expressions for plain words
    (most values in these files): a plan of thousands of objects spends its time elsewhere."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if (
            kind is yaml.ScalarNode
            and implicit[0]
            and value
            and value[0].isalpha()
            and value.lower() not in _WORDS_NOT_STRINGS
        ):
            return STR_TAG
        return super().resolve(kind, value, implicit)


MAX_TOTAL_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 32
SUFFIXES = (".yaml", ".yml")
# The core schema's implicit tags: what plain YAML values resolve to. Anything else was written as a tag.
PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
)


@dataclass(frozen=True)
class Mark:
    file: str
    line: int


@dataclass
class Document:
    """The merged files: each section's items, where every value came from, which sections were named."""

    sections: dict[str, list[Any]] = field(default_factory=dict)
    marks: dict[Path, Mark] = field(default_factory=dict)
    present: set[str] = field(default_factory=set)
    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # found while reading; the plan adds its own

    def mark(self, path: Path) -> Mark:
        """Where ``path`` (or its nearest written ancestor) is in the files."""
        for end in range(len(path), -1, -1):
            found = self.marks.get(path[:end])
            if found is not None:
                return found
        return Mark(self.files[0] if self.files else "(none)", 0)

    def problem(self, path: Path, message: str) -> Problem:
        where = self.mark(path)
        return Problem(where.file, where.line, dotted(path), message)


def read_directory(directory: str | FsPath) -> dict[str, str]:
    """Every ``*.yaml`` / ``*.yml`` under ``directory`` (recursively, by name) as {relative name: text}."""
    root = FsPath(directory)
    if root.is_file():
        return {root.name: root.read_text(encoding="utf-8")}
    if not root.is_dir():
        raise ConfigInvalid([Problem(str(directory), 0, "(top)", "no such file or directory")])
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    if not files:
        raise ConfigInvalid([Problem(str(directory), 0, "(top)", "no .yaml or .yml files here")])
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in files}


def load(files: Mapping[str, str], sections: Iterable[str]) -> Document:
    """Parse and merge ``files`` ({name: YAML text}); what is wrong with them is in ``problems``."""
    known = tuple(sections)
    document = Document(files=sorted(files))
    if sum(len(text) for text in files.values()) > MAX_TOTAL_BYTES:
        raise ConfigInvalid([Problem("(all files)", 0, "(top)", f"more than {MAX_TOTAL_BYTES} bytes in all")])
    if not files:
        raise ConfigInvalid([Problem("(no files)", 0, "(top)", "no configuration files given")])
    for name in document.files:
        _merge(document, name, files[name], known, document.problems)
    return document


def _merge(document: Document, name: str, text: str, known: tuple[str, ...], problems: list[Problem]) -> None:
    reader = _Reader(name)
    try:
        top = reader.read(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", -1) + 1
        problems.append(Problem(name, line, "(top)", f"not valid YAML: {getattr(exc, 'problem', None) or exc}"))
        return
    offsets: dict[str, int] = {}
    try:
        _sections(document, name, top, reader, known, problems, offsets)
    finally:
        # The reader's paths count within this file; the merged lists continue across files.
        for line, path, message in reader.problems:
            if len(path) >= 2 and isinstance(path[1], int) and path[0] in offsets:
                path = (path[0], path[1] + offsets[str(path[0])], *path[2:])
            problems.append(Problem(name, line, dotted(path), message))


def _sections(
    document: Document,
    name: str,
    top: Any,
    reader: _Reader,
    known: tuple[str, ...],
    problems: list[Problem],
    offsets: dict[str, int],
) -> None:
    if top is None:
        return  # an empty file adds nothing
    if not isinstance(top, dict):
        problems.append(Problem(name, 1, "(top)", "must be a mapping of sections (sources:, alert_rules:, ...)"))
        return
    for key, items in top.items():
        line = reader.marks.get((key,), Mark(name, 1)).line
        if key == "version":
            if items != 1:
                problems.append(Problem(name, line, "version", "must be 1"))
            continue
        if key not in known:
            problems.append(Problem(name, line, dotted((key,)), f"unknown key (expected: version, {', '.join(known)})"))
            continue
        if items is None:
            items = []
        if not isinstance(items, list):
            problems.append(Problem(name, line, dotted((key,)), "must be a list"))
            continue
        merged = document.sections.setdefault(key, [])
        offset = offsets[key] = len(merged)
        document.present.add(key)
        merged.extend(items)
        document.marks.setdefault((key,), Mark(name, line))
        for path, mark in reader.marks.items():
            if len(path) >= 2 and path[0] == key and isinstance(path[1], int):
                document.marks[(key, path[1] + offset, *path[2:])] = mark


class _Reader:
    """Builds plain values from libyaml's node tree, recording each node's line by path."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.marks: dict[Path, Mark] = {}
        self.problems: list[tuple[int, Path, str]] = []  # (line, path within this file, message)
        self._seen: set[int] = set()
        self._tagged: set[tuple[int, int]] = set()

    def read(self, text: str) -> Any:
        # libyaml's nodes do not say whether a core tag (``!!str``) was written or implied: the events do.
        # Only a text with a "!" can have one, so most files skip this second pass.
        self._tagged = {
            (mark.line, mark.column)
            for event in (yaml.parse(text, Loader=Loader) if "!" in text else ())
            if getattr(event, "tag", None) not in (None, "!") and (mark := event.start_mark) is not None
        }
        loader = Loader(text)
        try:
            self._loader = loader
            node = loader.get_single_node()
            return None if node is None else self._value(node, ())
        finally:
            loader.dispose()

    def _problem(self, node: yaml.Node, path: Path, message: str) -> None:
        self.problems.append((node.start_mark.line + 1, path, message))

    def _value(self, node: yaml.Node, path: Path) -> Any:
        self.marks.setdefault(path, Mark(self.name, node.start_mark.line + 1))
        if id(node) in self._seen:
            self._problem(node, path, "anchors and aliases are not allowed")
            return None
        self._seen.add(id(node))
        if node.tag not in PLAIN_TAGS or (node.start_mark.line, node.start_mark.column) in self._tagged:
            self._problem(node, path, f"tags are not allowed ({node.tag})")
            return None
        if len(path) > MAX_DEPTH:
            self._problem(node, path, f"nested deeper than {MAX_DEPTH} levels")
            return None
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                    self._problem(key_node, path, "keys must be plain strings")
                    continue
                key = key_node.value
                if key == "<<":
                    self._problem(key_node, path, "merge keys (<<) are not allowed")
                    continue
                if key in out:
                    self._problem(key_node, (*path, key), "duplicate key")
                    continue
                self.marks[(*path, key)] = Mark(self.name, key_node.start_mark.line + 1)
                out[key] = self._value(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._value(item, (*path, index)) for index, item in enumerate(node.value)]
        return self._loader.construct_object(node)
