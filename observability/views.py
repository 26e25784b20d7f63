from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client.exposition import choose_encoder

from observability.exposition import WEB_REGISTRY, request_may_scrape


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition (text, or OpenMetrics when asked) of this process plus the shared state."""
    if not request_may_scrape(request.META):
        if settings.METRICS_TOKEN:
            response = HttpResponse(
                "metrics: a valid bearer token is required\n", status=401, content_type="text/plain"
            )
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        return HttpResponse("metrics: this address is not allowed\n", status=403, content_type="text/plain")
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(WEB_REGISTRY), content_type=content_type)
