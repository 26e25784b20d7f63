"""What a plan knows while it is made: the files, the stored objects, and the objects the files describe.

Sections look each other's objects up here (a rule's source, a silence's team) by natural key: first what
the files describe (possibly not written yet), then what is stored and stays (not pruned).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from provisioning.document import Document

Key = tuple[str, ...]  # a natural key (provisioning.sections.base)


class Skip(Exception):
    """Raised by ``lookup`` for an object the files declare but describe wrongly (its own problem is reported)."""


@dataclass
class Context:
    document: Document
    environ: Mapping[str, str] | None = None
    prune: bool = False
    stored: dict[str, dict[Key, Any]] = field(default_factory=dict)  # section -> key -> stored object
    described: dict[str, dict[Key, Any]] = field(default_factory=dict)  # section -> key -> object (maybe unsaved)
    declared: dict[str, set[Key]] = field(default_factory=dict)  # section -> keys the files declare
    declared_at: dict[str, dict[Key, int]] = field(default_factory=dict)  # section -> key -> index of its item
    # section -> key -> every stored object holding it, for keys more than one holds (``Section.keyed``)
    twins: dict[str, dict[Key, list[Any]]] = field(default_factory=dict)
    doomed: dict[str, set[Key]] = field(default_factory=dict)  # section -> keys --prune deletes
    scope_teams: set[str] = field(default_factory=set)  # teams the files speak for (prune stays inside them)
    cache: dict[str, Any] = field(default_factory=dict)  # per-plan lookups a section shares between its items

    def lookup(self, section: str, key: Key) -> Any | None:
        """The object ``key`` names in ``section``: described by the files, else stored and not pruned."""
        found = self.described.get(section, {}).get(key)
        if found is not None:
            return found
        if key in self.declared.get(section, set()):
            raise Skip(f"{section} {key}")  # declared, but its own problems kept it from being described
        if key in self.doomed.get(section, set()):
            return None  # deleted by --prune
        return self.stored.get(section, {}).get(key)

    def will_exist(self, section: str, key: Key) -> bool:
        if key in self.declared.get(section, set()):
            return True
        return key in self.stored.get(section, {}) and key not in self.doomed.get(section, set())
