"""Writing the hub's one text straight to a connection's socket, skipping the per-connection ASGI chain.

An update fanned out to 1,000 connections went, per connection, through the consumer's ``send``,
channels' session wrapper, the access log's wrapper and the server's ``websocket.send`` handling,
then was UTF-8 encoded and framed again. Server frames are not masked, so the bytes of one text
frame are the same for every connection that negotiated no extension: this module builds them once
per text (remembered by identity, like ``realtime/transport.py`` does under daphne) and writes them
to each socket.

``DirectFrames`` is ASGI middleware, outermost in ``devops_insights/asgi.py``, so that it sees the
server's own ``send``. When the server is one it knows, it puts a ``FrameWriter`` in the scope under
``DIRECT_WRITER``; the consumer's ``handle_event`` offers each shared text to it and falls back to
the ordinary ASGI ``send`` whenever it declines:

- uvicorn's ``websockets-sansio`` implementation (the one documented) and its older, deprecated
  ``websockets`` one: the frame is written to the transport, unless the connection negotiated
  per-message compression (its frames differ per connection), is not open, or has more than
  ``MAX_BUFFERED`` bytes waiting or writing paused (then the ordinary send applies its flow control);
- daphne: the text goes to the protocol's ``serverSend``, which realtime/transport.py has already
  made write one prepared frame for every connection.

Ordering is kept: the ordinary send reaches the socket without waiting on anything before its
write, so a reply and an update are written in the order the consumer sent them. The access log
counts what went this way (``sent_bytes``) in the socket's byte total.
"""

from __future__ import annotations

from typing import Any

from observability.access_log import DIRECT_WRITER

MAX_BUFFERED = 1 << 20  # bytes queued on one socket past which the ordinary, flow-controlled send is used


class _SharedFrame:
    """The last text framed in this process (one event loop writes it) and its frame bytes."""

    def __init__(self) -> None:
        self.text: str | None = None
        self.frame = b""
        self.built = 0  # frames built; tests compare it with the messages written

    def frame_of(self, text: str) -> bytes:
        if self.text is not text:
            from websockets.frames import OP_TEXT, Frame

            self.frame = Frame(OP_TEXT, text.encode()).serialize(mask=False)
            self.text = text  # held, so that its identity cannot be reused by another text
            self.built += 1
        return self.frame


shared_frame = _SharedFrame()


class FrameWriter:
    """Writes shared texts to one connection; ``write`` returns False when the ordinary send must be used."""

    sent_bytes = 0

    def write(self, text: str) -> bool:
        raise NotImplementedError

    def to_transport(self, transport: Any, text: str) -> bool:
        """The shared frame of ``text`` written to an asyncio ``transport`` that is open and not backed up."""
        if transport is None or transport.is_closing() or transport.get_write_buffer_size() > MAX_BUFFERED:
            return False
        transport.write(shared_frame.frame_of(text))
        self.sent_bytes += len(text)
        return True


class UvicornWebsocketsWriter(FrameWriter):
    def __init__(self, protocol: Any) -> None:
        from websockets.protocol import State

        self.protocol = protocol
        self.open = State.OPEN  # looked up once, not per message

    def write(self, text: str) -> bool:
        protocol = self.protocol
        if protocol.state is not self.open or protocol.extensions:
            return False
        return self.to_transport(protocol.transport, text)


class UvicornSansIOWriter(FrameWriter):
    """uvicorn's ``websockets-sansio`` implementation: the frame goes to the transport the protocol writes to."""

    def __init__(self, protocol: Any) -> None:
        from websockets.protocol import State

        self.protocol = protocol
        self.open = State.OPEN

    def write(self, text: str) -> bool:
        protocol = self.protocol
        connection = protocol.conn
        if (
            not protocol.handshake_complete
            or protocol.close_sent
            or protocol.disconnected
            or connection.state is not self.open
            or connection.extensions
            # Paused writing: the ordinary send waits for the buffer to drain; a frame written now
            # would overtake a message waiting there.
            or not protocol.writable.is_set()
        ):
            return False
        return self.to_transport(protocol.transport, text)


class DaphneWriter(FrameWriter):
    def __init__(self, server: Any, protocol: Any) -> None:
        self.server = server
        self.protocol = protocol

    def write(self, text: str) -> bool:
        protocol = self.protocol
        state = self.server.connections.get(protocol)
        if state is None or state.get("disconnected") or protocol.state != protocol.STATE_OPEN:
            return False
        protocol.serverSend(text, False)
        self.sent_bytes += len(text)
        return True


def writer_for(send: Any) -> FrameWriter | None:
    """A writer for the server behind ``send`` (the server's own ASGI send callable), or None."""
    owner = getattr(send, "__self__", None)
    if owner is not None:
        module = type(owner).__module__
        if module == "uvicorn.protocols.websockets.websockets_sansio_impl":
            return UvicornSansIOWriter(owner)
        if module == "uvicorn.protocols.websockets.websockets_impl":
            return UvicornWebsocketsWriter(owner)
    func = getattr(send, "func", None)
    args: tuple[Any, ...] = getattr(send, "args", ())
    server = getattr(func, "__self__", None)
    if server is not None and type(server).__module__ == "daphne.server" and len(args) == 1:
        return DaphneWriter(server, args[0])
    return None


class DirectFrames:
    """ASGI middleware: puts a ``FrameWriter`` in WebSocket scopes when the server is one it knows."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket":
            writer = writer_for(send)
            if writer is not None:
                scope = dict(scope, **{DIRECT_WRITER: writer})
        return await self.application(scope, receive, send)
