"""What retention announces, for the apps above metrics that keep their own bounded history.

``retention_applied`` is sent at the end of every full (not dry-run) retention run, from ``manage.py prune``
and from the poller's periodic prune alike, with ``now`` and ``progress`` (a callable taking one line of
text). Metrics imports no app above it; accounts (the audit trail) connects to this signal instead.
"""

from __future__ import annotations

from django.dispatch import Signal

retention_applied = Signal()
