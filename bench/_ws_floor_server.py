"""The floor of bench/ws_fanout.py: the least a Python WebSocket fan-out can do.

Bare ``websockets`` server: every connection is kept in a set; each message PUBLISHed on a Redis
channel is written to every connection with ``websockets.broadcast``. No auth, no subscriptions,
no per-connection work: what is left is the cost of Redis pub/sub plus the WebSocket writes.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection, broadcast, serve


async def main(port: int, redis_url: str, channel: str) -> None:
    connections: set[ServerConnection] = set()

    async def handler(connection: ServerConnection) -> None:
        connections.add(connection)
        try:
            async for message in connection:
                # Answer a subscribe so the client harness treats both servers alike.
                await connection.send('{"type":"snapshot","snapshots":[],"unchanged":[],"pending":[]}')
                del message
        finally:
            connections.discard(connection)

    client = aioredis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe(channel)

    async def relay() -> None:
        async for item in pubsub.listen():
            if item["type"] == "message":
                broadcast(connections, item["data"].decode())

    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(handler, "127.0.0.1", port, max_size=2**16, ping_interval=20, backlog=1024):
        relay_task = asyncio.create_task(relay())
        print("ready", flush=True)
        await stop
        relay_task.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--channel", default="bench-floor")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.redis_url, args.channel))
