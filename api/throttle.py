"""Rate limits on the shared cache (django-ratelimit), answered with 429 and Retry-After."""

from __future__ import annotations

from django.http import HttpRequest
from django_ratelimit.core import get_usage

from api.errors import ApiError


def retry_after_seconds(time_left: int) -> int:
    # django-ratelimit's window named ``w`` still counts during second ``w`` itself (time_left == 0 then),
    # so it ends at w + 1: waiting time_left whole seconds would be up to one second short.
    return max(1, int(time_left) + 1)


def hit(request: HttpRequest, group: str, value: str, rate: str) -> int | None:
    """Count one request for ``value`` in ``group``; the seconds to wait when over ``rate``, else None."""
    usage = get_usage(request, group=group, key=lambda _group, _request: value, rate=rate, increment=True)
    if usage is None or not usage["should_limit"]:
        return None
    return retry_after_seconds(usage["time_left"])


def enforce(request: HttpRequest, group: str, value: str, rate: str) -> None:
    wait = hit(request, group, value, rate)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            f"Rate limit of {rate} exceeded; retry in {wait} s.",
            {"limit": rate, "scope": group.rsplit(".", 1)[-1], "retry_after": wait},
            {"Retry-After": str(wait)},
        )
