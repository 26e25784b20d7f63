"""``/api/v1/health`` (liveness), ``/api/v1/ready`` (readiness) and ``/api/v1/info``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from ninja.responses import Status

import devops_insights
from api.readiness import run_checks
from api.router import ApiRouter
from api.schemas import Info, Liveness, Ready, documented
from metrics.defaults import REGIONS
from metrics.stores import get_store
from pollers.models import Source

router = ApiRouter(tags=["status"])


@router.get("/health", auth=None, response=documented({200: Liveness}, 400), operation_id="health")
def health(request: HttpRequest) -> dict[str, str]:
    """Liveness: the process answers. Touches no dependency, so a database outage never restarts it."""
    return {"status": "ok"}


@router.get("/ready", auth=None, response=documented({200: Ready, 503: Ready}, 400), operation_id="ready")
def ready(request: HttpRequest, response: HttpResponse) -> Status:
    """Readiness: database, cache, channel layer, metric store and poller heartbeat.

    503, with the same body, when one of them is down.
    """
    ok, results = run_checks()
    body = {"status": "ready" if ok else "not_ready", "checks": {name: r.as_dict() for name, r in results.items()}}
    response["Cache-Control"] = "no-store"
    return Status(200 if ok else 503, body)


def _cache_backend() -> str:
    backend = str(settings.CACHES["default"]["BACKEND"])
    return "redis" if "redis" in backend.lower() else "local-memory"


def _channel_layer_backend() -> str:
    backend = str(settings.CHANNEL_LAYERS["default"]["BACKEND"])
    return "redis" if "redis" in backend.lower() else "in-memory"


@router.get("/info", response=documented({200: Info}, 400, 401, 429, not_modified=True), operation_id="info")
def info(request: HttpRequest) -> dict[str, Any]:
    """Version, enabled backends, regions and limits."""
    configured = Source.objects.exclude(region="").values_list("region", flat=True).distinct()
    return {
        "name": "DevOps Insights",
        "version": devops_insights.__version__,
        "api_version": "v1",
        "backends": {
            "database": connection.vendor,
            "cache": _cache_backend(),
            "channel_layer": _channel_layer_backend(),
            "metric_store": get_store().backend,
        },
        "regions": sorted(set(REGIONS) | set(configured)),
        "limits": {
            "rate_limit_token": settings.API_RATE_LIMIT_TOKEN,
            "rate_limit_ip": settings.API_RATE_LIMIT_IP,
            "max_page_size": settings.API_MAX_PAGE_SIZE,
            "max_series_buckets": settings.API_SERIES_MAX_BUCKETS,
        },
    }
