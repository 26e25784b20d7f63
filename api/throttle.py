"""The API's rate limits: counted by ``accounts.rate_limits``, answered with 429, Retry-After and the error shape."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.rate_limits import Usage, count
from api.errors import ApiError

__all__ = ["Usage", "enforce"]


def enforce(request: HttpRequest, group: str, value: str, rate: str) -> Usage | None:
    """Count one request, raising the 429 when over ``rate``; the usage for response headers otherwise."""
    wait, usage = count(request, group, value, rate)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            f"Rate limit of {rate} exceeded; retry in {wait} s.",
            {"limit": rate, "scope": group.rsplit(".", 1)[-1], "retry_after": wait},
            {"Retry-After": str(wait), **(usage.headers() if usage else {})},
        )
    return usage
