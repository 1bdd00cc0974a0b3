"""What every agent connection of one control-plane process shares, so that the store sees a
few statements a second for the whole fleet, not a few per connected agent.

- **Signs of life.** A connection records each frame it gets with ``seen``; once a second
  ``tick`` writes them all in one executemany. ``agentConnected`` allows 30 s of silence, so a
  second's delay changes nothing, and 5,000 agents cost one statement a second instead of
  hundreds. The write leaves alone an instance whose connection closed meanwhile (last seen
  NULL): a late flush never brings a closed agent back to life.
- **Desired-state changes made elsewhere.** A change committed by this process wakes the
  instance's connection at once (``Notifier``). One made by another process or replica is
  found by ``tick`` too: one statement reads the desired version of every connected instance
  and wakes the connections whose version moved (or whose instance was deregistered).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, select, update

from dockyard.store.schema import container_instances

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
_READ_AT_ONCE = 500  # instance ids per statement

_instances = container_instances.c
_MARK_SEEN = (
    update(container_instances)
    .where(_instances.id == bindparam("row_id"), _instances.last_seen_at.is_not(None))
    .values(last_seen_at=bindparam("seen"))
)
# A fixed list of plain parameters (unused ones are -1, no instance's id): an "expanding" IN
# is rewritten by SQLAlchemy on every execution, which cost most of the tick at 5,000 agents.
_VERSIONS = select(_instances.id, _instances.desired_version, _instances.status).where(
    _instances.id.in_([bindparam(f"id{n}") for n in range(_READ_AT_ONCE)])
)
_UNUSED_ID = -1


class Watcher(Protocol):
    """A connection as the hub sees it."""

    sent_version: int | None
    wake: asyncio.Event


StoreWork = Callable[[Callable[[Connection], Any]], Any]


class ChannelHub:
    def __init__(self, run_in_store: StoreWork) -> None:
        self._run_in_store = run_in_store
        self._seen: dict[int, float] = {}
        self._watchers: dict[int, Watcher] = {}

    def attach(self, instance_id: int, watcher: Watcher) -> None:
        self._watchers[instance_id] = watcher

    def detach(self, instance_id: int, watcher: Watcher) -> None:
        """The connection closed; forget its unwritten signs of life too."""
        if self._watchers.get(instance_id) is watcher:
            del self._watchers[instance_id]
            self._seen.pop(instance_id, None)

    def seen(self, instance_id: int, when: float | None = None) -> None:
        self._seen[instance_id] = time.time() if when is None else when

    async def run(self) -> None:
        """``tick`` every second until cancelled."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            with contextlib.suppress(Exception):
                await self.tick()

    async def tick(self) -> None:
        seen, self._seen = self._seen, {}
        watched = dict(self._watchers)
        if not seen and not watched:
            return

        def work(connection: Connection) -> dict[int, tuple[int, str]]:
            if seen:
                connection.execute(_MARK_SEEN, [{"row_id": i, "seen": at} for i, at in seen.items()])
            versions: dict[int, tuple[int, str]] = {}
            ids = sorted(watched)
            for start in range(0, len(ids), _READ_AT_ONCE):
                chunk = ids[start : start + _READ_AT_ONCE]
                chunk += [_UNUSED_ID] * (_READ_AT_ONCE - len(chunk))
                rows = connection.execute(_VERSIONS, {f"id{n}": i for n, i in enumerate(chunk)})
                versions.update((row[0], (int(row[1]), row[2])) for row in rows)
            return versions

        versions = await self._run_in_store(work)
        for instance_id, watcher in watched.items():
            version, status = versions.get(instance_id, (None, "INACTIVE"))
            if status == "INACTIVE" or version != watcher.sent_version:
                watcher.wake.set()
