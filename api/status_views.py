"""``/api/v1/ready`` (readiness probe), ``/api/v1/info`` and ``/api/v1/openapi.json``."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponseBase, JsonResponse

import devops_insights
from api.conditional import conditional_json
from api.decorators import Access, api_view
from api.openapi import openapi_document
from api.params import QueryParams
from api.readiness import run_checks
from metrics.defaults import REGIONS
from metrics.stores import get_store
from pollers.models import Source


@api_view(GET=Access.PUBLIC)
def ready(request: HttpRequest) -> HttpResponseBase:
    """Readiness: 200 when every dependency answers, 503 (same body) when one does not."""
    QueryParams(request, ()).raise_if_invalid()
    ok, results = run_checks()
    body = {"status": "ready" if ok else "not_ready", "checks": {name: r.as_dict() for name, r in results.items()}}
    response = JsonResponse(body, status=200 if ok else 503)
    response["Cache-Control"] = "no-store"
    return response


def _cache_backend() -> str:
    backend = str(settings.CACHES["default"]["BACKEND"])
    return "redis" if "redis" in backend.lower() else "local-memory"


def _channel_layer_backend() -> str:
    backend = str(settings.CHANNEL_LAYERS["default"]["BACKEND"])
    return "redis" if "redis" in backend.lower() else "in-memory"


@api_view(GET=Access.READ)
def info(request: HttpRequest) -> HttpResponseBase:
    QueryParams(request, ()).raise_if_invalid()
    configured = Source.objects.exclude(region="").values_list("region", flat=True).distinct()
    data = {
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
    return conditional_json(request, data)


@api_view(GET=Access.PUBLIC)
def openapi(request: HttpRequest) -> HttpResponseBase:
    QueryParams(request, ()).raise_if_invalid()
    return conditional_json(request, openapi_document())
