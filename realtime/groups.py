"""Channel-layer group names, shared by the event senders and the consumer so both always agree."""

from __future__ import annotations

import hashlib
import re

ALL_GROUP = "metrics.all"
_GROUP_PREFIX = "metrics."
# Channels accepts ASCII letters, digits, hyphens, underscores and periods, under 100 characters.
# Source slugs are Django slugs (at most 64 characters) and pass as they are; anything else is hashed
# so that a strange slug can never produce an invalid or colliding group name.
_SAFE_SLUG = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def source_group(slug: str) -> str:
    if _SAFE_SLUG.match(slug):
        return f"{_GROUP_PREFIX}{slug}"
    digest = hashlib.sha1(slug.encode(), usedforsecurity=False).hexdigest()
    # A period never occurs in a slug, so a hashed name cannot collide with a plain one.
    return f"{_GROUP_PREFIX}h.{digest}"
