"""Signals alerting sends; realtime connects to them, alerting knows nothing of realtime.

``alert_event_recorded``: sent once per fired or resolved ``AlertEvent`` after the transaction that
recorded it has committed, with ``sender=AlertEvent`` and keyword arguments ``slug`` (the source's slug)
and ``event`` (JSON-serializable: ``AlertEvent.as_dict()`` plus ``source_alert_state``, the source's
``SourceAlertLevel`` after the transition). Sent with ``send_robust``: receivers must be quick and must not
raise; alerting logs a receiver's exception and carries on, the evaluation is already committed.
"""

from __future__ import annotations

from django.dispatch import Signal

alert_event_recorded = Signal()
