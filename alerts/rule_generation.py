"""The generation of the alert rules' cache (``alerts.rule_cache``): its key, and the one way to move it.

Apart from the cache itself, which imports the current models, so that a migration can move it too: a migration
changes rules through historical models, whose saves reach no receiver (``alerts.receivers`` listens to the
current model), so without it running pollers would keep the old rules until they restart
(``0010_rules_follow_their_source``).
"""

from __future__ import annotations

import logging
from typing import Final

from devops_insights import cache_generation

log = logging.getLogger("alerts")
GENERATION_KEY: Final = "alerts:rules:generation"


def announce_rules_changed() -> None:
    """Give the rules a new generation: every process reloads its snapshot at its next check
    (``ALERT_RULES_RECHECK_SECONDS``). A cache outage is logged, not raised: the processes then reuse a snapshot
    for at most ``rule_cache.FALLBACK_SECONDS``."""
    try:
        cache_generation.replace(GENERATION_KEY)
    except Exception as exc:
        log.warning("alert rules changed but the cache is unreachable: %s", type(exc).__name__)
