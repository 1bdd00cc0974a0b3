"""Pushes ``loadImage`` frames to the Docker hosts connected to this process (one per process,
as the agent-channel hub: a host's socket lives in one process only).

Every second (at once when an image turns active here) it reads the pending loads (one look
at an index when there are none) and sends each frame to its host, if connected here, once
per connection: a host that reconnects
before answering is asked again on its new socket (agents answer a repeat at once).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from dockyard.glance import host_loads

if TYPE_CHECKING:
    from dockyard.server_state import ServerState

log = logging.getLogger(__name__)

NAME = "glance-host-loads"


@runtime_checkable
class Pushable(Protocol):
    async def push(self, frame: dict[str, Any]) -> bool: ...


class LoadPusher:
    name = NAME
    needs_leader = False
    interval = 1.0

    def __init__(self, server: ServerState) -> None:
        self.server = server
        self._sent: dict[tuple[int, str], int] = {}  # (instance, image) -> id() of the socket used

    async def due(self, now: float) -> Sequence[Hashable]:
        return ["push"]

    async def reconcile(self, key: Hashable) -> None:
        hub = self.server.hub
        found = await self.server.run_in_store(host_loads.pending)
        wanted: dict[tuple[int, str], int] = {}
        for instance_id, frame in found:  # those of hosts connected elsewhere find no socket here
            sockets: list[Pushable] = [w for w in hub.watchers(instance_id) if isinstance(w, Pushable)]
            if not sockets:
                continue
            socket = sockets[-1]  # the newest connection
            key_ = (instance_id, frame["imageId"])
            if self._sent.get(key_) != id(socket) and await socket.push(frame):
                log.info("glance: asked instance %s to load image %s", instance_id, frame["imageId"])
                wanted[key_] = id(socket)
            elif key_ in self._sent:
                wanted[key_] = self._sent[key_]
        self._sent = wanted  # answered or gone: forgotten
