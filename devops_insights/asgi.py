"""ASGI entry point: HTTP and WebSocket in one daphne process."""

from __future__ import annotations

from devops_insights.startup import load_settings_or_exit

load_settings_or_exit()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402 - settings must load first
from django.core.asgi import get_asgi_application  # noqa: E402

# Build the Django app before importing anything that touches models.
django_asgi_app = get_asgi_application()

from devops_insights.admission import AdmissionQueue  # noqa: E402
from devops_insights.collector import WEB as WEB_COLLECTOR  # noqa: E402
from devops_insights.collector import settle as settle_collector  # noqa: E402
from devops_insights.routing import websocket_urlpatterns  # noqa: E402
from devops_insights.stack_dump import install as install_stack_dump  # noqa: E402
from observability.access_log import AccessLogMiddleware  # noqa: E402
from realtime.auth import ApiTokenAuthMiddleware, SessionAuthMiddleware  # noqa: E402
from realtime.autobahn_logging import defer_debug_formatting  # noqa: E402
from realtime.direct import DirectFrames  # noqa: E402
from realtime.origin import SameOriginValidator  # noqa: E402
from realtime.transport import bound_daphne_websockets  # noqa: E402

# Under daphne: oversized WebSocket messages closed with 1009 by the transport (realtime/transport.py).
bound_daphne_websockets()
# Under daphne: autobahn's debug-log arguments built only for a debug line written (realtime/autobahn_logging.py).
defer_debug_formatting()

# Outermost: the shared-frame writer, which must see the server's own send (realtime/direct.py); then
# the access log (query values of sensitive names redacted), which sees every request and socket.
application = DirectFrames(
    AccessLogMiddleware(
        ProtocolTypeRouter(
            {
                # At most WEB_MAX_CONCURRENT_REQUESTS requests in Django at once; the rest queue here.
                "http": AdmissionQueue(django_asgi_app),
                # Session first (browsers), then an API token when the session holds no user.
                "websocket": SameOriginValidator(
                    SessionAuthMiddleware(ApiTokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
                ),
            }
        )
    )
)

# What is loaded by now lives as long as the process: out of the collector's reach, and young
# collections less often (devops_insights/collector.py, which holds the measurements).
settle_collector(WEB_COLLECTOR)

# kill -USR1: every thread's stack to stderr, for a process that stops answering (docs/operations.md).
install_stack_dump()
