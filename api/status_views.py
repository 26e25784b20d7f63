"""``/api/v1/`` (where to go next), ``/api/v1/health`` (liveness), ``/api/v1/ready`` (readiness), ``/api/v1/info``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from ninja.responses import Status

import devops_insights
from accounts.models import ApiToken
from accounts.teams import token_role
from api.access import principal_of
from api.readiness import run_checks
from api.router import ApiRouter
from api.schemas import Index, Info, Liveness, Ready, documented
from metrics.defaults import REGIONS
from metrics.stores import get_store
from observability.exposition import request_may_scrape
from pollers.models import Source

router = ApiRouter(tags=["status"])


@router.get("/", auth=None, response=documented({200: Index}, 400), operation_id="index")
def index(request: HttpRequest) -> dict[str, Any]:
    """Where to go next: the docs, the OpenAPI document and every endpoint, public like the docs."""
    from api.ninja_api import api  # the document of the API this view belongs to

    base = request.path if request.path.endswith("/") else request.path + "/"
    document = api.get_openapi_schema(path_prefix="")
    endpoints = [
        {"method": method.upper(), "path": base + path.lstrip("/"), "summary": str(operation.get("summary", ""))}
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    return {
        "name": "DevOps Insights API",
        "api_version": "v1",
        "docs": f"{base}docs",
        "openapi": f"{base}openapi.json",
        "authentication": "A browser session, or the header Authorization: Bearer <token> (tokens: /accounts/tokens/).",
        "endpoints": endpoints,
    }


@router.get("/health", auth=None, response=documented({200: Liveness}, 400), operation_id="health")
def health(request: HttpRequest) -> dict[str, str]:
    """Liveness: the process answers. Touches no dependency, so a database outage never restarts it."""
    return {"status": "ok"}


@router.get(
    "/ready", auth=None, response=documented({200: Ready, 503: Ready}, 400), operation_id="ready", exclude_unset=True
)
def ready(request: HttpRequest, response: HttpResponse) -> Status:
    """Readiness: database, cache, channel layer, metric store and poller heartbeat.

    503 when one of them is down. Anyone gets the overall status; each check's status, latency and detail
    (database vendor, cache class, poller count) only an API token (read scope) or the allowlisted scraper
    (`METRICS_TOKEN`, or a direct connection from `METRICS_ALLOWED_IPS`, as for `/metrics`).
    """
    ok, results = run_checks()
    body: dict[str, Any] = {"status": "ready" if ok else "not_ready"}
    if may_see_details(request):
        body["checks"] = {name: r.as_dict() for name, r in results.items()}
    response["Cache-Control"] = "no-store"
    return Status(200 if ok else 503, body)


def may_see_details(request: HttpRequest) -> bool:
    """The /metrics rule, or any active API token (every scope reads). A bad token is not refused here: the
    probe stays public and keeps its status code, the caller just gets no details."""
    if request_may_scrape(request.META):
        return True
    scheme, _, raw = (request.headers.get("Authorization") or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    token = ApiToken.authenticate(raw.strip())
    # A token of a member removed since is no credential here either.
    return token is not None and token_role(token) is not None


def _cache_backend() -> str:
    backend = str(settings.CACHES["default"]["BACKEND"])
    return "redis" if "redis" in backend.lower() else "local-memory"


def _channel_layer_backend() -> str:
    backend = str(settings.CHANNEL_LAYERS["default"]["BACKEND"])
    return "redis" if "redis" in backend.lower() else "in-memory"


@router.get("/info", response=documented({200: Info}, 400, 401, 429, not_modified=True), operation_id="info")
def info(request: HttpRequest) -> dict[str, Any]:
    """Version, enabled backends, regions and limits."""
    # Only the caller's teams' regions: another team's region names are theirs.
    visible = principal_of(request).restrict(Source.objects.all())
    configured = visible.exclude(region="").values_list("region", flat=True).distinct()
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
