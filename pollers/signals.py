"""Signals the poller sends; realtime, alerting and observability connect to them, the poller knows none of them.

Every signal is sent with ``sender=Source`` and ``send_robust``: receivers must be quick and must not
raise, and the poller logs and ignores a receiver's exception, so a listener's bug or outage (a channel
layer down) never fails a poll whose data is stored. They are sent in this order within one poll:

``health_changed``: sent when a poll changed the source's health in a way worth announcing, after
the health fields are written, with keyword arguments ``source`` (the ``Source`` instance, health
fields already updated), ``status`` (one of ``pollers.health.CHANGES``: "failing" for the first failed
poll after a success, "circuit_open" when the breaker has just opened, "recovered" for the first success
after either) and ``detail`` (a JSON-serializable dict: ``error_kind``, ``error_message``,
``consecutive_failures`` and ``poll_id`` for a failure, ``after_failures`` for a recovery). At most once
per poll; never on a dry run.

``change_stored``: sent after a poll stored a document that differs from the previous one, with keyword
arguments ``source`` (the ``Source``), ``record`` (the store's ``RecordResult``: ``hash``, ``sequence``,
``metrics`` and ``diff``), ``fetched_at`` (when the poll started, an aware datetime) and ``poll_id``
(str). An unchanged poll stores only a last-seen time and sends nothing.

``poll_completed``: sent after every poll of a source has been stored (or has failed), with
keyword arguments ``source`` (the ``Source`` instance, health fields already updated) and
``outcome`` (a ``PollOutcome``).
"""

from __future__ import annotations

from django.dispatch import Signal

health_changed = Signal()
change_stored = Signal()
poll_completed = Signal()
