"""Wake-ups for agent connections when their instance's desired state changed.

Requests commit on the event loop or in worker threads; ``wake`` is safe from either. A wake-up
is only a hint to look now: the hub (``hub.py``) also reads every connected instance's
``desired_version`` once a second, which carries changes made by another control-plane
replica and those made here without a wake-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class Notifier:
    def __init__(self) -> None:
        self._events: dict[int, set[asyncio.Event]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self, instance_id: int) -> asyncio.Event:
        self._loop = asyncio.get_running_loop()
        event = asyncio.Event()
        self._events.setdefault(instance_id, set()).add(event)
        return event

    def unsubscribe(self, instance_id: int, event: asyncio.Event) -> None:
        waiting = self._events.get(instance_id)
        if waiting is not None:
            waiting.discard(event)
            if not waiting:
                del self._events[instance_id]

    def wake(self, instance_ids: Iterable[int]) -> None:
        loop = self._loop
        if loop is None:
            return
        ids = list(instance_ids)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._set(ids)
        else:
            loop.call_soon_threadsafe(self._set, ids)

    def _set(self, ids: list[int]) -> None:
        for instance_id in ids:
            for event in self._events.get(instance_id, ()):
                event.set()
