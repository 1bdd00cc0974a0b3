"""Batches container output into ``logs`` frames for the WebSocket.

Log followers (driver threads) add lines from any thread; one coroutine flushes every
0.5 s while the channel is up. Each container's buffer is bounded: when the control plane
is unreachable for long, the oldest lines go first, and nothing else is held up.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

FLUSH_INTERVAL = 0.5
MAX_BUFFERED_LINES = 5000  # per container
MAX_LINES_PER_FRAME = 500
MAX_LINE_LENGTH = 16384


class LogShipper:
    """Collects (time, text) lines per task container and ships them in batches."""

    def __init__(self, send: Callable[[dict[str, Any]], bool], connected: Callable[[], bool],
                 interval: float = FLUSH_INTERVAL) -> None:
        self.send, self.connected, self.interval = send, connected, interval
        self._lock = threading.Lock()
        self._buffers: dict[tuple[str, str], deque[list[Any]]] = {}

    def add(self, task_arn: str, container_name: str, at: float, text: str) -> None:
        """Queue one line (thread-safe)."""
        with self._lock:
            buffer = self._buffers.setdefault(
                (task_arn, container_name), deque(maxlen=MAX_BUFFERED_LINES))
            buffer.append([at, text[:MAX_LINE_LENGTH]])

    def frames(self) -> list[dict[str, Any]]:
        """Take what is buffered, as logs frames of at most MAX_LINES_PER_FRAME lines."""
        with self._lock:
            taken = {key: list(lines) for key, lines in self._buffers.items() if lines}
            self._buffers = {}
        frames = []
        for (task_arn, container_name), lines in taken.items():
            for start in range(0, len(lines), MAX_LINES_PER_FRAME):
                frames.append({"type": "logs", "taskArn": task_arn,
                               "containerName": container_name,
                               "lines": lines[start:start + MAX_LINES_PER_FRAME]})
        return frames

    def flush(self) -> None:
        if self.connected():
            for frame in self.frames():
                self.send(frame)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.flush()
