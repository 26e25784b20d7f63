"""The WebSocket size limit, enforced by daphne's transport where it can close with the standard 1009.

An application cannot close with 1009: autobahn (under daphne) accepts only 1000 and 3000-4999
from it and raises "invalid close code", which daphne reports as "Exception inside application"
and turns into 1011, a code clients retry forever. And a message over daphne's own cap (1 MiB by
default) was dropped with the TCP connection, no close frame at all, because autobahn fails
connections "by drop" unless told otherwise. daphne offers no option for either, so this module
narrows its WebSocket factory when daphne is the server:

- the message and frame caps become ``REALTIME_MAX_MESSAGE_BYTES`` (or daphne's own
  ``--websocket-max-message-size``, when smaller), checked from the frame header, before the
  payload is read, so a 20 MB message costs nothing;
- a connection failed by the transport (that cap, a protocol violation) gets a close frame with
  its code (1009 for the cap) instead of a dropped TCP connection.

It also frames a text sent to many connections once: the LocalHub hands the same ``str`` object to
every connection for one event (realtime/encoding.py), and daphne would UTF-8 encode and frame it
again per connection. The narrowed protocol remembers the last text it framed (by identity, holding
a reference so the identity cannot be reused) as an autobahn ``PreparedMessage`` and writes those
bytes as they are to every open connection without per-message compression.

The consumer's own check stays for other servers (and tests without daphne); it closes with 4009.
Installed from ``devops_insights/asgi.py``; a process that has not imported daphne's server (a test,
a management command) is left alone, since importing it would install Twisted's reactor.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from django.conf import settings

_MARK = "devops_insights_bounded"


def bound_daphne_websockets() -> bool:
    """Narrow daphne's WebSocket factory (see the module docstring). True when daphne is the server."""
    server_module = sys.modules.get("daphne.server")
    if server_module is None:
        return False
    base: Any = server_module.WebSocketFactory
    if getattr(base, _MARK, False):
        return True

    def setProtocolOptions(self: Any, *args: Any, **options: Any) -> None:
        limit = int(settings.REALTIME_MAX_MESSAGE_BYTES)
        for name in ("maxMessagePayloadSize", "maxFramePayloadSize"):
            if name in options:
                given = int(options[name] or 0)  # 0 is "no limit" to autobahn
                options[name] = min(given, limit) if given > 0 else limit
        options["failByDrop"] = False  # a close frame with the reason, not a silently cut connection
        base.setProtocolOptions(self, *args, **options)

    server_module.WebSocketFactory = type(  # type: ignore[attr-defined]
        "BoundedWebSocketFactory",
        (base,),
        {"setProtocolOptions": setProtocolOptions, "protocol": _shared_frame_protocol(base.protocol), _MARK: True},
    )
    return True


class _LastFrame:
    """The last text framed in this process and its frame (one reactor thread; the lock is cheap insurance)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.text: str | None = None
        self.prepared: Any = None
        self.prepared_count = 0  # frames built; tests compare it with messages sent


last_frame = _LastFrame()


def _shared_frame_protocol(base: Any) -> Any:
    def serverSend(self: Any, content: Any, binary: bool = False) -> None:
        if binary or self.state != self.STATE_OPEN or self._perMessageCompress is not None:
            base.serverSend(self, content, binary)
            return
        with last_frame.lock:
            if last_frame.text is not content:
                last_frame.prepared = self.factory.prepareMessage(content.encode("utf8"), False)
                last_frame.text = content
                last_frame.prepared_count += 1
            prepared = last_frame.prepared
        self.sendPreparedMessage(prepared)

    return type("SharedFrameWebSocketProtocol", (base,), {"serverSend": serverSend})
