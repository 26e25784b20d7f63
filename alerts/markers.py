"""Anomalies as markers: the fired events of ``anomaly`` rules, with when each resolved.

The one reading of detected anomalies that the API (``/api/v1/anomalies``), the drill-down chart and the
changes feed share. Anomalies are recorded as the alert events of their rules (no second table), so a
marker follows the rule's hysteresis and outlives nothing the events do not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts.evaluate import ANOMALY, FIRED
from alerts.models import AlertEvent

MAX_MARKERS = 1000


def anomaly_markers(sources: Any, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Fired events of anomaly rules on ``sources`` in [start, end), with when each resolved: the one
    reading of anomalies that the API, the drill-down chart and the changes feed share."""
    fired = (
        AlertEvent.objects.filter(
            rule__kind=ANOMALY, kind=FIRED, source__in=sources, occurred_at__gte=start, occurred_at__lt=end
        )
        .select_related("source")
        .prefetch_related("resolutions")
        .order_by("occurred_at", "pk")[:MAX_MARKERS]
    )
    found = []
    for event in fired:
        value = event.value if isinstance(event.value, dict) else {}
        resolved = min((r.occurred_at for r in event.resolutions.all()), default=None)
        found.append(
            {
                "id": event.pk,
                "source": event.source.slug,
                "rule": event.rule_name,
                "metric": value.get("metric"),
                "hour": value.get("hour"),
                "occurred_at": event.occurred_at.isoformat(),
                "resolved_at": resolved.isoformat() if resolved else None,
                "value": value.get("value"),
                "z": {name: (value.get(name) or {}).get("z") for name in ("seasonal", "peer") if name in value},
            }
        )
    return found
