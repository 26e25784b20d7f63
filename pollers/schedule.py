"""When each poll of a source is due: slots of one interval, offset by a per-source phase.

Slot ``n`` of a source starts at ``n * interval + phase``. The phase is derived from the slug, so
every poller process computes the same slots (the lease of slot ``n`` means the same thing
everywhere) while different sources are spread across the interval instead of firing in
lockstep. Each process then waits a random fraction of the interval past the slot start before
claiming it, so the first free process wins and the load spreads across processes.
"""

from __future__ import annotations

import hashlib
import math


def phase(slug: str, interval: float) -> float:
    fraction = int.from_bytes(hashlib.sha256(slug.encode()).digest()[:8], "big") / 2**64
    return fraction * interval


def slot_at(now: float, interval: float, offset: float) -> int:
    return math.floor((now - offset) / interval)


def slot_start(slot: int, interval: float, offset: float) -> float:
    return slot * interval + offset
