"""WebSocket URL routes: each app that serves WebSockets contributes its patterns here."""

from __future__ import annotations

from realtime.routing import websocket_urlpatterns as realtime_patterns

websocket_urlpatterns = [*realtime_patterns]
