"""What every agent connection of one control-plane process shares, so that the store sees a
few statements a second for the whole fleet, not a few per connected agent.

- **Signs of life.** A connection records each frame it gets with ``seen``; once a second
  ``tick`` writes them all in one executemany, each instance's at most every
  ``SEEN_REWRITE_SECONDS`` (a later one waits for its turn). ``agentConnected`` allows 30 s
  of silence, so a few seconds' delay changes nothing; 5,000 agents cost one statement a
  second instead of hundreds, and a fleet busy with tasks (a frame from every agent every
  second) not a row per agent a second. An instance may have several connections at once
  (an agent reconnecting before its old socket timed out, a stray second socket): its last
  one to close marks it disconnected (last seen NULL), in the tick, after any sign of life
  of its own, so a late flush never brings a closed agent back to life. An instance with a
  live connection here is written even if it reads NULL: a brief connection that closed on
  another replica must not disconnect the live one for good.
- **Revoked keys.** The tick reads, in one statement, which of the connections' access keys
  are still active; a connection whose key is not is told to close, so a revoked key stops
  its agents (and their instances stop taking tasks) within about a second.
- **Desired-state changes made elsewhere.** A change committed by this process wakes the
  instance's connection at once (``Notifier``). One made by another process or replica is
  found by ``tick`` too: one statement reads the desired version of every connected instance
  and wakes the connections whose version moved (or whose instance was deregistered). On
  SQLite that read is skipped while ``PRAGMA data_version`` says no other connection has
  committed since the last one (this process writes through the group commit's connection,
  whose own commits it does not count), and made every ``FULL_READ_TICKS`` ticks regardless.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, select, update

from dockyard.ecs.container_instances import AGENT_TIMEOUT_SECONDS, INSTANCE_LOST_SECONDS
from dockyard.store import direct
from dockyard.store.schema import access_keys, container_instances

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
# Well within the silences that count: agentConnected's 30 s and the lost instance's 300 s (both
# shorter in tests), and under the agents' 10 s heartbeat.
SEEN_REWRITE_SECONDS = min(5.0, AGENT_TIMEOUT_SECONDS / 6, INSTANCE_LOST_SECONDS / 4)
_READ_AT_ONCE = 500  # instance ids per statement
FULL_READ_TICKS = 10  # the versions are read at least this often, whatever data_version says

_instances = container_instances.c
_MARK_SEEN = (
    update(container_instances)
    .where(_instances.id == bindparam("row_id"), _instances.last_seen_at.is_not(None))
    .values(last_seen_at=bindparam("seen"))
)
_MARK_LIVE = (
    update(container_instances)
    .where(_instances.id == bindparam("row_id"))
    .values(last_seen_at=bindparam("seen"))
)
_MARK_CLOSED = (
    update(container_instances)
    .where(_instances.id.in_(bindparam("ids", expanding=True)))
    .values(last_seen_at=None, disconnected_at=bindparam("now"))
)
_ACTIVE_KEYS = select(access_keys.c.access_key_id).where(
    access_keys.c.access_key_id.in_(bindparam("ids", expanding=True)), access_keys.c.status == "Active"
)
# A fixed list of plain parameters (unused ones are -1, no instance's id): an "expanding" IN
# is rewritten by SQLAlchemy on every execution, which cost most of the tick at 5,000 agents.
_VERSIONS = select(_instances.id, _instances.desired_version, _instances.status).where(
    _instances.id.in_([bindparam(f"id{n}") for n in range(_READ_AT_ONCE)])
)
_VERSION_PARAMS = [f"id{n}" for n in range(_READ_AT_ONCE)]
_UNUSED_ID = -1


class Watcher(Protocol):
    """A connection as the hub sees it (``access_key_id`` None: not checked; ``revoked`` is
    set, and ``wake`` too, when its key is no longer active)."""

    sent_version: int | None
    wake: asyncio.Event
    revoked: bool


StoreWork = Callable[[Callable[[Connection], Any]], Any]


class ChannelHub:
    def __init__(self, run_in_store: StoreWork, *, check_keys: bool = True) -> None:
        self._run_in_store = run_in_store
        self._check_keys = check_keys
        self._seen: dict[int, float] = {}
        self._written: dict[int, float] = {}  # the sign of life this process last wrote, per instance
        self._watchers: dict[int, list[Watcher]] = {}
        # The access keys of the connections, counted as they attach and detach: a tick reads
        # which are still active without a walk of every connection.
        self._keys: collections.Counter[str] = collections.Counter()
        self._closed: set[int] = set()  # instances whose last connection closed, to mark
        self._store_seen: tuple[int, int] | None = None  # (connection, data_version) at the last read
        self._ticks_unread = 0

    def attach(self, instance_id: int, watcher: Watcher) -> None:
        self._watchers.setdefault(instance_id, []).append(watcher)
        self._closed.discard(instance_id)
        if key := getattr(watcher, "access_key_id", None):
            self._keys[key] += 1

    def detach(self, instance_id: int, watcher: Watcher, *, closed: bool = False) -> None:
        """The connection ended. When it was the instance's last one here, its unwritten signs
        of life are forgotten and, if ``closed``, the next tick marks the instance disconnected."""
        watchers = self._watchers.get(instance_id, [])
        if watcher in watchers:
            watchers.remove(watcher)
            if key := getattr(watcher, "access_key_id", None):
                self._keys[key] -= 1
                if not self._keys[key]:
                    del self._keys[key]
        if watchers:
            return
        self._watchers.pop(instance_id, None)
        self._seen.pop(instance_id, None)
        self._written.pop(instance_id, None)
        if closed:
            self._closed.add(instance_id)

    def connections(self, instance_id: int) -> int:
        return len(self._watchers.get(instance_id, ()))

    def watchers(self, instance_id: int) -> list[Watcher]:
        """An instance's connections in this process, oldest first."""
        return list(self._watchers.get(instance_id, ()))

    def seen(self, instance_id: int, when: float | None = None) -> None:
        self._seen[instance_id] = time.time() if when is None else when

    # As a controller of the runtime (controllers/runtime.py): in every process, one key.
    name = "agent-channel-hub"
    needs_leader = False
    interval = TICK_SECONDS

    async def due(self, now: float) -> Sequence[Hashable]:
        return ["tick"]

    async def reconcile(self, key: Hashable) -> None:
        await self.tick()

    async def tick(self) -> None:
        seen, self._seen = self._seen, {}
        written, now = self._written, time.time()
        for instance_id, at in list(seen.items()):
            if max(at, now) - written.get(instance_id, 0.0) < SEEN_REWRITE_SECONDS:
                # Too soon after the last one written: kept for a later tick (a newer sign of
                # life replaces it), so an agent's last frame is still written, a little late.
                del seen[instance_id]
                self._seen.setdefault(instance_id, at)
        closed, self._closed = sorted(self._closed), set()
        watched = self._watchers
        if not seen and not watched and not closed:
            return
        # Rows are written in id order, the order every other writer locks instances in.
        live = [{"row_id": i, "seen": at} for i, at in sorted(seen.items()) if i in watched]
        others = [{"row_id": i, "seen": at} for i, at in sorted(seen.items()) if i not in watched]
        keys = sorted(self._keys) if self._check_keys else []
        watched_ids = list(watched)  # as the tick began: the work may run on another thread

        def work(connection: Connection) -> tuple[dict[int, tuple[int, str]] | None, set[str], Any]:
            for statement, marks in ((_MARK_LIVE, live), (_MARK_SEEN, others)):
                if marks:
                    direct.write(connection, statement, marks)
            if closed:
                connection.execute(_MARK_CLOSED, {"ids": closed, "now": time.time()})
            active: set[str] = set()
            for start in range(0, len(keys), _READ_AT_ONCE):
                active.update(
                    connection.execute(_ACTIVE_KEYS, {"ids": keys[start : start + _READ_AT_ONCE]}).scalars()
                )
            store_seen = direct.commits_elsewhere(connection)
            if (
                store_seen is not None
                and store_seen == self._store_seen
                and self._ticks_unread < FULL_READ_TICKS
            ):
                return None, active, store_seen  # nothing committed elsewhere: nothing to find
            versions: dict[int, tuple[int, str]] = {}
            ids = sorted(watched_ids)
            for start in range(0, len(ids), _READ_AT_ONCE):
                chunk = ids[start : start + _READ_AT_ONCE]
                chunk += [_UNUSED_ID] * (_READ_AT_ONCE - len(chunk))
                rows = direct.execute(connection, _VERSIONS, dict(zip(_VERSION_PARAMS, chunk, strict=True)))
                versions.update((row[0], (int(row[1]), row[2])) for row in rows)
            return versions, active, store_seen

        versions, active, self._store_seen = await self._run_in_store(work)
        self._ticks_unread = 0 if versions is not None else self._ticks_unread + 1
        written.update(seen)
        revoked = {key for key in keys if key not in active}
        if versions is None and not revoked:
            return  # nothing to tell any connection: no walk of 5,000 of them
        for instance_id, watchers in watched.items():
            version, status = (versions or {}).get(instance_id, (None, "INACTIVE"))
            for watcher in watchers:
                key = getattr(watcher, "access_key_id", None) if self._check_keys else None
                if key and key in revoked:
                    watcher.revoked = True
                    watcher.wake.set()
                elif versions is not None and (status == "INACTIVE" or version != watcher.sent_version):
                    watcher.wake.set()
