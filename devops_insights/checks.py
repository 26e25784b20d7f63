"""System checks for settings that are each valid alone but wrong together."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


@register()
def check_body_limits(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if settings.POLLER_MAX_BODY_BYTES > settings.METRICS_MAX_PAYLOAD_BYTES:
        return [
            Warning(
                "POLLER_MAX_BODY_BYTES is larger than METRICS_MAX_PAYLOAD_BYTES.",
                hint="Bodies between the two limits are downloaded and then refused by the store.",
                id="devops_insights.W001",
            )
        ]
    return []


@register()
def check_shared_cache(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """SHARED_CACHE_ALIAS must name a cache: devops_insights.shared_cache no longer falls back to the default
    one, which without Redis is each process's own memory, where a rule change or the retention lock would
    reach no other process."""
    alias = settings.SHARED_CACHE_ALIAS
    if alias not in settings.CACHES:
        return [
            Error(
                f"SHARED_CACHE_ALIAS is {alias!r}, which is not an entry of CACHES.",
                hint=f"Name one of {', '.join(sorted(settings.CACHES))}, or add {alias!r} to CACHES.",
                id="devops_insights.E001",
            )
        ]
    return []


@register(deploy=True)
def check_single_poller(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if not settings.DEBUG and not settings.REDIS_URL:
        return [
            Warning(
                "REDIS_URL is not set in production.",
                hint="Without Redis the cache and channel layer are per process and only one poller may run.",
                id="devops_insights.W002",
            )
        ]
    return []
