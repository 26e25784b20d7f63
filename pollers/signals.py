"""Signals the poller sends; alerting and observability connect to them, the poller knows neither.

``poll_completed``: sent after every poll of a source has been stored (or has failed), with
keyword arguments ``source`` (the ``Source`` instance, health fields already updated) and
``outcome`` (a ``PollOutcome``). Receivers must be quick and must not raise: the poller logs
and ignores a receiver's exception (it uses ``send_robust``).
"""

from __future__ import annotations

from django.dispatch import Signal

poll_completed = Signal()
