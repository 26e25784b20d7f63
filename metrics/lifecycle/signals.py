"""What retention announces, for the apps above metrics that keep their own bounded history.

``retention_applied`` is sent at the end of every full (not dry-run) retention run, from ``manage.py prune``
and from the poller's periodic prune alike, with ``now`` and ``progress`` (a callable taking one line of
text). Metrics imports no app above it; accounts (the audit trail) connects to this signal instead.

``rollups_wanted`` is sent once at the start of every retention run (dry runs too), with ``slugs`` (the
sources about to be pruned) and ``now``. A receiver returns a mapping of slug to a moment: that source's
rollups (every tier) from that moment on are kept, whatever its policy says, because something above metrics
reads them (objectives: a metric objective's period and its monthly report count 1-minute rollups). Slugs
not in ``slugs`` are ignored; the earliest moment any receiver names wins. A receiver that raises is logged
and that run deletes no rollups at all: what was wanted is unknown, and a failure to ask must not lose data.
"""

from __future__ import annotations

from django.dispatch import Signal

retention_applied = Signal()
rollups_wanted = Signal()
