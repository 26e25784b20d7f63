"""Names the product chooses where a natural key must stay unique: ``name``, else ``name (2)``, ``name (3)``, ...

The one home of that rule, for the code that picks a name (``free_name``) and for the migrations
that made such keys unique by renaming the objects already sharing one. Pure functions over what they are
given: a migration's historical models work with them as the current ones do.
"""

from __future__ import annotations

import logging
from collections.abc import Container
from typing import Any

logger = logging.getLogger("devops_insights.migrations")


def first_free(name: str, length: int, taken: Container[str]) -> str:
    """``name`` cut to ``length``, else the first ``name (n)`` from 2 on (``name`` shortened to keep its
    suffix within ``length``) that is not in ``taken``."""
    candidate, number = name[:length], 2
    while candidate in taken:
        suffix = f" ({number})"
        candidate, number = name[: length - len(suffix)] + suffix, number + 1
    return candidate


def free_name(rows: Any, field: str, name: str) -> str:
    """``name``, else ``name (2)``, ``name (3)``, ...: the first that none of ``rows`` (a queryset) has in
    ``field``, within the field's length (a name the product chooses must not be a second object's natural key)."""
    length = rows.model._meta.get_field(field).max_length or 120
    prefix = name[: length - 10]  # what every candidate starts with, shortened for its " (n)" or not
    taken = set(rows.filter(**{f"{field}__startswith": prefix}).values_list(field, flat=True))
    return first_free(name, length, taken)


def rename_twins(rows: Any, scope: str, field: str, noun: str) -> int:
    """Rename, by id, every row of ``rows`` whose ``field`` another row of the same ``scope`` (a foreign key's
    attname, ``team_id``) took first: the first keeps it, the others get the first free ``(n)`` (``first_free``)
    within the field's length. Each rename is logged; nothing is deleted. Returns how many were renamed."""
    length = rows.model._meta.get_field(field).max_length
    listed = list(rows.order_by("pk").values_list("pk", scope, field))
    taken: dict[Any, set[str]] = {}
    for _pk, owner, value in listed:
        taken.setdefault(owner, set()).add(value)
    kept: set[tuple[Any, str]] = set()
    renamed = 0
    for pk, owner, value in listed:
        if (owner, value) not in kept:
            kept.add((owner, value))
            continue
        free = first_free(value, length, taken[owner])
        taken[owner].add(free)
        rows.filter(pk=pk).update(**{field: free})
        renamed += 1
        logger.warning("%s %s renamed %r -> %r: another of its %s has that %s", noun, pk, value, free, scope, field)
    return renamed
