"""ASGI entry point: HTTP and WebSocket in one daphne process."""

from __future__ import annotations

from devops_insights.startup import load_settings_or_exit

load_settings_or_exit()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - settings must load first
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

# Build the Django app before importing anything that touches models.
django_asgi_app = get_asgi_application()

from devops_insights.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
