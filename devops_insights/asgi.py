"""ASGI entry point: HTTP and WebSocket in one daphne process."""

from __future__ import annotations

import gc

from devops_insights.startup import load_settings_or_exit

load_settings_or_exit()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402 - settings must load first
from django.core.asgi import get_asgi_application  # noqa: E402

# Build the Django app before importing anything that touches models.
django_asgi_app = get_asgi_application()

from devops_insights.admission import AdmissionQueue  # noqa: E402
from devops_insights.routing import websocket_urlpatterns  # noqa: E402
from observability.access_log import AccessLogMiddleware  # noqa: E402
from realtime.auth import ApiTokenAuthMiddleware, SessionAuthMiddleware  # noqa: E402
from realtime.direct import DirectFrames  # noqa: E402
from realtime.origin import SameOriginValidator  # noqa: E402
from realtime.transport import bound_daphne_websockets  # noqa: E402

# Under daphne: oversized WebSocket messages closed with 1009 by the transport (realtime/transport.py).
bound_daphne_websockets()

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

# What is loaded by now (Django, every app and its imports: about 300,000 objects) lives as long as
# the process. Moved out of the collector's reach, it is no longer rescanned by every full
# collection: with 1,000 WebSocket handshakes in a row those passes were a third of the server's
# CPU (bench/ws_fanout.py, connect phase), and each one paused every connection at once.
gc.collect()
gc.freeze()

# A young-generation collection every 10,000 net allocations instead of 700. A handshake keeps its
# futures, tasks and frames alive across a few awaits: with 700, dozens of handshakes in flight were
# traversed and promoted at nearly every collection, and the promotions triggered full collections
# of every open connection's objects. With 1,000 handshakes in a row (bench/ws_fanout.py, connect
# phase, uvicorn) the collector's CPU fell from 0.40 s in 370 collections to 0.17 s in 25; a cycle
# of garbage now waits for at most 10,000 allocations more before it is freed.
gc.set_threshold(10_000, 10, 10)
