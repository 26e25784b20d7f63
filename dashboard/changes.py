"""The "what changed" feed: a change's fields, the ones that matter first.

Diffs are stored in path order, so ``status`` and ``results.services.redis`` sat among volatile counters.
Here they come first: the reported status, then services, then issues and alerts, then the rest in path
order. The first ``SHOWN`` are listed; the others expand in place (templates/dashboard/_change.html).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from metrics.stores.base import FieldChange

SHOWN: Final = 8

# Path prefixes, most important first; a path's rank is the first prefix it starts with.
IMPORTANT: Final = (
    ("status",),
    ("results", "services"),
    ("server_issue",),
    ("results", "issues"),
    ("issues",),
    ("results", "alerts"),
    ("results", "deployment", "build_status"),
    ("version",),
)


def rank(path: str) -> int:
    parts = tuple(path.split("."))
    for i, prefix in enumerate(IMPORTANT):
        if parts[: len(prefix)] == prefix:
            return i
    return len(IMPORTANT)


def important_first(diff: Iterable[FieldChange]) -> list[FieldChange]:
    """Stable: fields of equal rank keep their stored (path) order."""
    return sorted(diff, key=lambda change: rank(change.path))


@dataclass(frozen=True)
class DiffView:
    shown: list[FieldChange]
    more: list[FieldChange]


def diff_view(diff: Sequence[FieldChange], shown: int = SHOWN) -> DiffView:
    ordered = important_first(diff)
    return DiffView(ordered[:shown], ordered[shown:])
