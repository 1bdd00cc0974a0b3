"""Following a process-driver container's output: tailing its ``.log`` file."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dockyard.agent.drivers import LogSink

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2


class ProcessLogFollower(threading.Thread):
    """Tails a container's log file into a sink until the process has ended and all is read.

    The thread ends by itself once the process has ended and the file is read to its end,
    so joining it is how an owner knows every line is in the sink (``stop`` drops the rest,
    for an agent that is going away)."""

    def __init__(self, path: Path, since: float | None, sink: LogSink, ended: Callable[[], bool]) -> None:
        super().__init__(name=f"logs-{path.stem}", daemon=True)
        self.path, self.since, self.sink, self.ended = path, since, sink, ended
        self._stopped = threading.Event()

    def run(self) -> None:
        try:
            self._follow()
        except Exception:  # the owner joins this thread: it must end, and say why
            log.exception("following %s failed", self.path)

    def _follow(self) -> None:
        # An adopted process: only what it writes from now on (earlier output was sent before).
        offset = self.path.stat().st_size if self.since is not None and self.path.exists() else 0
        partial = b""
        while not self._stopped.is_set():
            ended = self.ended()  # looked at before reading, so nothing written last is missed
            try:
                with self.path.open("rb") as handle:
                    handle.seek(offset)
                    data = handle.read()
            except OSError:
                data = b""
            offset += len(data)
            lines = (partial + data).split(b"\n")
            partial = lines.pop()
            now = time.time()
            for line in lines:
                self.sink(now, line.decode("utf-8", "replace").rstrip("\r"))
            if ended and not data:
                if partial:
                    self.sink(now, partial.decode("utf-8", "replace"))
                return
            if not ended:  # once it has ended, what is left is read without pausing
                self._stopped.wait(POLL_SECONDS)

    def stop(self) -> None:
        self._stopped.set()
