"""A maintenance window silences its components' alert rules: the one home of that link.

Alerting already knows silences (``alerts.Silence``: alerts still evaluate and record events, but
notify nobody), so a window keeps one Silence per source of its components, spanning the window, and
remembers them (``MaintenanceWindow.silences``). ``sync_silences`` makes them match the window after
any change (times, title, components, a component's sources); ``drop_silences`` removes them with the
window. Receivers (statuspages/receivers.py) call both, so the admin, the management pages and any
script stay in step. Silences are not consulted here: alerting's own check is the only one.
"""

from __future__ import annotations

from django.db import transaction

from alerts.models import Silence
from pollers.models import Source
from statuspages.models import MaintenanceWindow

REASON_PREFIX = "Status page maintenance: "


def wanted_sources(window: MaintenanceWindow) -> dict[int, Source]:
    return {
        source.pk: source
        # The page's team's only: a source moved to another team since is no longer the window's to silence.
        for source in Source.objects.filter(status_components__maintenance_windows=window, team_id=window.page.team_id)
        .distinct()
        .order_by("pk")
    }


@transaction.atomic
def sync_silences(window: MaintenanceWindow) -> list[Silence]:
    """Make the window's silences one per source of its components, over the window's times."""
    sources = wanted_sources(window)
    reason = (REASON_PREFIX + window.title)[:300]
    kept: list[Silence] = []
    for silence in list(window.silences.all()):
        if silence.source_id not in sources:
            silence.delete()
            continue
        sources.pop(silence.source_id)
        if (silence.starts_at, silence.ends_at, silence.reason) != (window.starts_at, window.ends_at, reason):
            silence.starts_at, silence.ends_at, silence.reason = window.starts_at, window.ends_at, reason
            silence.save(update_fields=["starts_at", "ends_at", "reason"])
        kept.append(silence)
    for source in sources.values():
        silence = Silence.objects.create(
            team_id=source.team_id,
            source=source,
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            reason=reason,
            kept_by_window=True,
            created_by=window.created_by,
        )
        window.silences.add(silence)
        kept.append(silence)
    return kept


def drop_silences(window: MaintenanceWindow) -> None:
    Silence.objects.filter(maintenance_windows=window).delete()
