"""A silence made with a reason of its own within its team: the one home of picking that reason and keeping it.

Configuration as code knows a silence by team and reason, so a reason another silence of the team has gets the
first free `` (n)`` (``devops_insights.naming.free_name``). Two requests at once can both find the same reason free;
the database keeps it unique (the constraint ``one_silence_reason_per_team``), so the one that loses picks
again, a bounded number of times.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from alerts.models import Silence
from devops_insights.naming import free_name

# Each retry lost to a writer that took the reason picked a moment before: a handful means something is wrong.
ATTEMPTS = 5


class ReasonTaken(Exception):
    """Every reason picked was taken by another silence before this one was saved."""


def add_silence(team_id: int, reason: str, **fields: Any) -> Silence:
    """A new silence of the team with ``reason``, else the first free ``reason (n)``."""
    for _ in range(ATTEMPTS):
        free = free_name(Silence.objects.filter(team_id=team_id), "reason", reason)
        try:
            with transaction.atomic():
                return Silence.objects.create(team_id=team_id, reason=free, **fields)
        except IntegrityError:
            if not Silence.objects.filter(team_id=team_id, reason=free, kept_by_window=False).exists():
                raise  # not the reason's constraint: not ours to hide
    raise ReasonTaken(f"other silences kept taking the reason {reason[:40]!r}; try again")
