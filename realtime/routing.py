"""WebSocket routes of the realtime app."""

from __future__ import annotations

from django.urls import URLPattern, path

from realtime.consumers import MetricsConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/metrics/", MetricsConsumer.as_asgi(), name="ws-metrics"),
]
