"""Counting requests against a rate on the shared cache (django-ratelimit): the API's limits.

Only counting lives here; how a refusal is answered is the caller's (the API's one error shape,
``api.throttle``). The login lockout is allauth's (accounts/adapter.py), not this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django_ratelimit.core import get_usage


def retry_after_seconds(time_left: int) -> int:
    # django-ratelimit's window named ``w`` still counts during second ``w`` itself (time_left == 0 then),
    # so it ends at w + 1: waiting time_left whole seconds would be up to one second short.
    return max(1, int(time_left) + 1)


@dataclass(frozen=True)
class Usage:
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
        }


def count(request: HttpRequest, group: str, value: str, rate: str) -> tuple[int | None, Usage | None]:
    """Count one request for ``value`` in ``group``: (seconds to wait when over ``rate`` else None, usage).

    The usage is None when limits are off or the cache could not count (RATELIMIT_FAIL_OPEN).
    """
    usage: dict[str, Any] | None = get_usage(
        request, group=group, key=lambda _group, _request: value, rate=rate, increment=True
    )
    if usage is None:
        return None, None
    reset = retry_after_seconds(usage["time_left"])
    summary = Usage(int(usage["limit"]), max(0, int(usage["limit"]) - int(usage["count"])), reset)
    return (reset if usage["should_limit"] else None), summary
