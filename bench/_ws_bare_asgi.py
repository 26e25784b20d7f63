"""A second floor of bench/ws_fanout.py: the least an ASGI application can do, under daphne or uvicorn.

What bench/_ws_floor_server.py does, as an ASGI application: accept every WebSocket, answer each
message with the same empty snapshot, and write each message PUBLISHed on a Redis channel to every
connection through the server's ``send``. No Django, no auth, no subscriptions, no middleware: run
under daphne (``daphne _ws_bare_asgi:application``) or uvicorn, what is left is the server's own
handshake and send path, which the project cannot make cheaper. The bench names these servers
``bare-daphne`` and ``bare-uvicorn``. Under daphne it defers autobahn's debug-log arguments as the
project does (realtime/autobahn_logging.py): that waste is not the server's floor.

Environment: BENCH_FLOOR_REDIS_URL (the Redis to listen on), BENCH_FLOOR_CHANNEL (default bench-floor).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from realtime.autobahn_logging import defer_debug_formatting

defer_debug_formatting()  # under daphne only; imports nothing of Django

Send = Callable[[dict[str, Any]], Awaitable[None]]
SNAPSHOT = '{"type":"snapshot","snapshots":[],"unchanged":[],"pending":[]}'

connections: set[Send] = set()
relaying: list[asyncio.Task[None]] = []  # the one relay task, started by the first connection


async def relay() -> None:
    client = aioredis.Redis.from_url(os.environ["BENCH_FLOOR_REDIS_URL"])
    pubsub = client.pubsub()
    await pubsub.subscribe(os.environ.get("BENCH_FLOOR_CHANNEL", "bench-floor"))
    async for item in pubsub.listen():
        if item["type"] != "message":
            continue
        text = item["data"].decode()
        for send in list(connections):
            try:
                await send({"type": "websocket.send", "text": text})
            except Exception:  # a connection closing meanwhile: the others still get it
                connections.discard(send)


async def application(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Send) -> None:
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "websocket":
        return
    if not relaying:
        relaying.append(asyncio.get_running_loop().create_task(relay()))
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            connections.add(send)
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": SNAPSHOT})
        elif message["type"] == "websocket.disconnect":
            connections.discard(send)
            return
