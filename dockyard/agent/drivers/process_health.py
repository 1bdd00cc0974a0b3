"""Health checks for the process driver, with Docker's semantics.

A check runs every ``interval`` seconds (the first one ``interval`` after the start); it
fails on a non-zero exit or after ``timeout``. ``retries`` failures in a row make the
container UNHEALTHY, one success makes it HEALTHY, and failures inside ``startPeriod`` do
not count until the container has been healthy once.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from dockyard.agent.status import HealthStatus

log = logging.getLogger(__name__)


def health_command(check: Mapping[str, Any] | None) -> list[str] | None:
    """The argv a ``healthCheck.command`` runs (CMD-SHELL through /bin/sh), or None."""
    command = [str(part) for part in ((check or {}).get("command") or ())]
    if not command or command[0] == "NONE":
        return None
    if command[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(command[1:])]
    if command[0] == "CMD":
        return command[1:] or None
    return command


class HealthChecker(threading.Thread):
    """Runs one container's health check until stopped; ``status`` is the latest verdict."""

    def __init__(
        self,
        command: list[str],
        check: Mapping[str, Any],
        *,
        cwd: str,
        env: Mapping[str, str],
        on_change: Callable[[], None],
    ) -> None:
        super().__init__(name="health-check", daemon=True)
        self.command, self.cwd, self.env, self.on_change = command, cwd, dict(env), on_change
        self.interval = float(check.get("interval", 30))
        self.timeout = float(check.get("timeout", 5))
        self.retries = int(check.get("retries", 3))
        self.start_period = float(check.get("startPeriod", 0))
        self.status = HealthStatus.UNKNOWN
        self._stopped = threading.Event()

    def probe(self) -> bool:
        try:
            done = subprocess.run(
                self.command,
                cwd=self.cwd,
                env=self.env,
                timeout=self.timeout,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            log.debug("health check %s failed: %s", self.command, error)
            return False
        return done.returncode == 0

    def run(self) -> None:
        started = time.monotonic()
        failures = 0
        while not self._stopped.wait(self.interval):
            if self.probe():
                failures, verdict = 0, HealthStatus.HEALTHY
            else:
                grace = self.status is HealthStatus.UNKNOWN and time.monotonic() - started < self.start_period
                failures += 0 if grace else 1
                verdict = HealthStatus.UNHEALTHY if failures >= self.retries else self.status
            if verdict is not self.status and not self._stopped.is_set():
                self.status = verdict
                self.on_change()

    def stop(self) -> None:
        self._stopped.set()
