"""Process-local fan-out: one channel-layer channel per web process for all of its WebSockets.

The usual Channels pattern gives every connection its own channel and adds it to groups, so one
update for 2,000 subscribers is 2,000 channel-layer deliveries inside the process, each waking a
consumer's dispatch loop. bench/ws_fanout.py measured that machinery, not the WebSocket writes, as
most of the fan-out time. Here each process (each event loop) holds one channel that joins a group
when the first local connection wants it and leaves when the last one goes; every event arriving
on it is handed straight to the local connections of that group.

Delivery is keyed by group, that is by source slug (``metrics.<slug>``, or ``metrics.all``): each
event is encoded once here (``realtime.encoding.outbound``) and the one text is handed to every
member, which only decides whether it wants it (its subscriptions, its sequence; a set lookup).

Events carry the ``group`` they were sent to (``realtime.events`` adds it), because the channel
sits in ``metrics.<slug>`` and ``metrics.all`` at once and receives one copy per group. An event
without it is delivered to both groups' members once each, by source.

channels-redis forgets a member after ``group_expiry``; the hub re-joins its groups at half that,
so connections older than the expiry keep receiving.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Protocol

from channels.layers import BaseChannelLayer

from realtime.encoding import outbound
from realtime.groups import ALL_GROUP, source_group

logger = logging.getLogger(__name__)


class Member(Protocol):
    async def receive_event(self, event: dict[str, Any], text: str) -> None: ...


class LocalHub:
    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.members: dict[str, set[Member]] = {}
        self.channel: str | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.lock = asyncio.Lock()

    async def join(self, group: str, member: Member) -> None:
        """Deliver ``group``'s events to ``member``; raises if the channel layer is unreachable."""
        async with self.lock:
            members = self.members.get(group)
            if members is None:
                channel = await self._open()
                await self.layer.group_add(group, channel)
                members = self.members[group] = set()
            members.add(member)

    async def leave(self, group: str, member: Member) -> None:
        async with self.lock:
            members = self.members.get(group)
            if members is None or member not in members:
                return
            members.discard(member)
            if members:
                return
            del self.members[group]
            try:
                if self.channel is not None:
                    await self.layer.group_discard(group, self.channel)
            except Exception as exc:
                # The membership expires on its own; events for it are dropped here meanwhile.
                logger.warning("realtime: leaving group %s failed: %s", group, type(exc).__name__)
            if not self.members:
                self._close()

    async def _open(self) -> str:
        if self.channel is None:
            self.channel = await self.layer.new_channel()
            loop = asyncio.get_running_loop()
            self.tasks = [loop.create_task(self._read(self.channel))]
            group_expiry = getattr(self.layer, "group_expiry", None)
            if group_expiry:
                self.tasks.append(loop.create_task(self._refresh(group_expiry / 2)))
        return self.channel

    def _close(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.tasks = []
        self.channel = None

    async def _read(self, channel: str) -> None:
        while True:
            try:
                event = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("realtime: receiving from the channel layer failed: %s", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            await self.deliver(event)

    async def _refresh(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            for group in list(self.members):
                try:
                    if self.channel is not None:
                        await self.layer.group_add(group, self.channel)
                except Exception as exc:
                    logger.warning("realtime: renewing group %s failed: %s", group, type(exc).__name__)

    async def deliver(self, event: dict[str, Any]) -> None:
        group = event.get("group")
        if group is not None:
            targets: set[Member] = set(self.members.get(group, ()))
        else:
            slug = event.get("source", "")
            targets = set(self.members.get(source_group(slug), ())) | set(self.members.get(ALL_GROUP, ()))
        if not targets:
            return
        text = outbound(event)
        if text is None:
            return
        for member in targets:
            try:
                await member.receive_event(event, text)
            except Exception:
                # One broken connection must not starve the others.
                logger.exception("realtime: delivering %s failed", event.get("type"))


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LocalHub] = weakref.WeakKeyDictionary()


def hub_for(layer: BaseChannelLayer) -> LocalHub:
    """The hub of the running event loop (daphne has one; tests have one per test)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        hub = _hubs[loop] = LocalHub(layer)
    return hub
