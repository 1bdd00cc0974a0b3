"""Batches container output into ``logs`` frames for the WebSocket.

Log followers (driver threads) add lines from any thread; one coroutine ships everything
every 0.5 s while the channel is up, and a task owner ships its own task's lines at once
(:meth:`LogShipper.ship`) before it reports the task STOPPED. Shipping waits until the
channel has written each frame to the socket; a frame the channel could not write (the
connection went away) goes back to the front of its buffer and is shipped again on the next
connection, so a reconnect never loses lines. Each container's buffer is bounded: when the
control plane is unreachable for long, the oldest lines go first, and nothing else is held up.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

FLUSH_INTERVAL = 0.5
MAX_BUFFERED_LINES = 5000  # per container
MAX_LINES_PER_FRAME = 500
MAX_LINE_LENGTH = 16384

Key = tuple[str, str]  # (task ARN, container name)
Deliver = Callable[[dict[str, Any]], Awaitable[bool]]


class LogShipper:
    """Collects (time, text) lines per task container and ships them in batches.

    ``deliver`` queues one frame on the channel and answers, once it is written, True (or
    False if the connection went away first)."""

    def __init__(
        self, deliver: Deliver, connected: Callable[[], bool], interval: float = FLUSH_INTERVAL
    ) -> None:
        self.deliver, self.connected, self.interval = deliver, connected, interval
        self._lock = threading.Lock()
        self._buffers: dict[Key, deque[list[Any]]] = {}
        self._shipping = asyncio.Lock()  # one shipper at a time keeps each container's order

    def add(self, task_arn: str, container_name: str, at: float, text: str) -> None:
        """Queue one line (thread-safe)."""
        with self._lock:
            buffer = self._buffers.setdefault((task_arn, container_name), deque(maxlen=MAX_BUFFERED_LINES))
            buffer.append([at, text[:MAX_LINE_LENGTH]])

    def pending(self, task_arn: str | None = None) -> int:
        """How many lines (of one task, or all) wait to be shipped."""
        with self._lock:
            return sum(
                len(lines) for key, lines in self._buffers.items() if task_arn is None or key[0] == task_arn
            )

    def _take(self, task_arn: str | None) -> list[tuple[Key, list[list[Any]]]]:
        with self._lock:
            keys = [
                key
                for key, lines in self._buffers.items()
                if lines and (task_arn is None or key[0] == task_arn)
            ]
            return [(key, list(self._buffers.pop(key))) for key in keys]

    def _give_back(self, key: Key, lines: list[list[Any]]) -> None:
        """Put unshipped lines back in front of what arrived meanwhile (oldest still go first)."""
        with self._lock:
            newer = self._buffers.get(key, ())
            self._buffers[key] = deque([*lines, *newer], maxlen=MAX_BUFFERED_LINES)

    async def ship(self, task_arn: str | None = None) -> bool:
        """Ship what is buffered (for one task, or all) and wait until the channel wrote it.

        True when everything taken went out; False when the channel is (or went) down, in
        which case the lines stay buffered for the next connection."""
        async with self._shipping:
            if not self.connected():
                return False
            taken = self._take(task_arn)
            for index, (key, lines) in enumerate(taken):
                for start in range(0, len(lines), MAX_LINES_PER_FRAME):
                    frame = {
                        "type": "logs",
                        "taskArn": key[0],
                        "containerName": key[1],
                        "lines": lines[start : start + MAX_LINES_PER_FRAME],
                    }
                    if not await self.deliver(frame):
                        self._give_back(key, lines[start:])
                        for later_key, later_lines in taken[index + 1 :]:
                            self._give_back(later_key, later_lines)
                        return False
            return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.ship()
