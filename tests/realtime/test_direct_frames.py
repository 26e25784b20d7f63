"""realtime/direct.py on a real uvicorn server: each implementation gets its writer, and a shared text
written through it reaches a real client as one whole frame, in order with the ordinary sends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from observability.access_log import DIRECT_WRITER
from realtime.direct import DirectFrames, FrameWriter, UvicornSansIOWriter, UvicornWebsocketsWriter, shared_frame
from tests.services import free_port

uvicorn = pytest.importorskip("uvicorn")
# uvicorn's older ``websockets`` implementation warns that it is deprecated; the writer still supports it.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WRITERS = {"websockets-sansio": UvicornSansIOWriter, "websockets": UvicornWebsocketsWriter}


class Echo:
    """Accepts, then for each text received: an ordinary send, the same text through the writer, and a
    report of what the writer answered."""

    def __init__(self) -> None:
        self.writers: list[FrameWriter | None] = []
        self.after_close: list[bool] = []
        self.texts: dict[str, str] = {}  # one object per distinct text, as the hub hands every connection its one text

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        writer = scope.get(DIRECT_WRITER)
        self.writers.append(writer)
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                if writer is not None:
                    self.after_close.append(writer.write("too late"))
                return
            text = self.texts.setdefault(message["text"], message["text"])
            await send({"type": "websocket.send", "text": f"before {text}"})
            written = writer.write(text) if writer is not None else False
            await send({"type": "websocket.send", "text": json.dumps({"written": written})})


@pytest.fixture(params=sorted(WRITERS))
async def served(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, Echo, str]]:
    implementation = request.param
    app = Echo()
    port = free_port()
    # log_config=None: uvicorn leaves the test run's logging configuration alone.
    config = uvicorn.Config(
        DirectFrames(app), host="127.0.0.1", port=port, ws=implementation, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    try:
        yield implementation, app, f"ws://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_it_writes_a_shared_text_as_one_frame_in_order(served: tuple[str, Echo, str]) -> None:
    implementation, app, url = served
    built = shared_frame.built
    texts = ["é" * 70_000, "short", "short"]  # a long frame (64-bit length), then one text twice
    async with connect(url, compression=None, max_size=2**20) as ws:
        for text in texts:
            await ws.send(text)
            assert await ws.recv() == f"before {text}"
            assert await ws.recv() == text
            assert json.loads(await ws.recv()) == {"written": True}
    assert type(app.writers[0]) is WRITERS[implementation]
    assert shared_frame.built - built == 2  # a text sent again is not framed again
    for _ in range(100):
        if app.after_close:
            break
        await asyncio.sleep(0.02)
    assert app.after_close == [False]  # a closed connection is declined, never written to


async def test_it_leaves_a_compressed_connection_to_the_ordinary_send(served: tuple[str, Echo, str]) -> None:
    _, _, url = served
    async with connect(url) as ws:  # offers per-message compression; uvicorn accepts it by default
        await ws.send("hello")
        assert await ws.recv() == "before hello"
        assert json.loads(await ws.recv()) == {"written": False}
