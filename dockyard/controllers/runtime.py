"""The controller runtime: one way to write a background reconciler.

A controller says which keys are due (``due``: a service to reconcile, a stopped task to
forget, ...) and reconciles one key at a time (``reconcile``). The runner owns the rest:

- **Wake-ups.** A request whose writes concern a controller makes the key due in the store
  (so any process can see it) and, once committed, calls ``Runtime.wake(name)``: the runner
  looks at once instead of at its next tick. Every ``interval`` it looks anyway, which picks
  up keys made due by other processes and timers that came due.
- **Errors.** A reconcile that raises is logged with its traceback (never swallowed) and its
  key waits an exponentially growing, jittered back-off before it is tried again.
- **Leadership.** A controller with ``needs_leader`` runs in one process of all those sharing
  the store: the holder of its lease (``leases.py``). Another process takes over within
  ``LEASE_SECONDS`` of the leader's death, at once when it stops cleanly. Per-process
  controllers (the agent-channel hub, whose connections live in this process) run everywhere.
- **Identity.** Controllers write as the system (``system_identity``), in the account of the
  resource they act on, never as a user.

To add a controller: write a class with ``name``, ``needs_leader``, ``interval``, ``due`` and
``reconcile`` (see ``ecs/services/controller.py``) and list it in ``app.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Protocol

from dockyard.context import Identity

if TYPE_CHECKING:
    from dockyard.server_state import ServerState

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60.0
LEASE_RENEW_SECONDS = 1.0


def system_identity(account_id: str, name: str) -> Identity:
    """Who a controller's writes are made by, in the account of what it acts on."""
    return Identity(access_key_id=f"dockyard:{name}", account_id=account_id, user_name=f"dockyard-{name}")


class Controller(Protocol):
    name: str
    needs_leader: bool
    interval: float  # seconds between looks for due keys when nothing wakes it

    async def due(self, now: float) -> Sequence[Hashable]:
        """The keys to reconcile now, most urgent first (a bounded batch)."""

    async def reconcile(self, key: Hashable) -> None:
        """Bring one key to its desired state (one transaction); raise to be retried later."""


class Runner:
    """Runs one controller in this process."""

    def __init__(self, server: ServerState, controller: Controller, holder: str) -> None:
        self.server = server
        self.controller = controller
        self.holder = holder
        self.leading = not controller.needs_leader
        self.woken = asyncio.Event()
        self._failures: dict[Hashable, int] = {}
        self._retry_at: dict[Hashable, float] = {}
        self._lease_checked = float("-inf")
        self.reconciles = 0  # counted for /_dockyard/controllers (operators, benchmarks)
        self.failures = 0

    async def run(self) -> None:
        controller = self.controller
        while True:
            self.woken.clear()
            try:
                if await self._lead():
                    await self._pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("controller %s: a pass failed", controller.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.woken.wait(), self._sleep())

    def _sleep(self) -> float:
        interval = self.controller.interval
        if self.controller.needs_leader:
            interval = min(interval, LEASE_RENEW_SECONDS)
        if self._retry_at:
            interval = min(interval, max(0.0, min(self._retry_at.values()) - time.time()))
        return interval

    async def _lead(self) -> bool:
        """Whether this process leads the controller now (renewing the lease when it is time)."""
        if not self.controller.needs_leader:
            return True
        now = time.time()
        if now - self._lease_checked >= LEASE_RENEW_SECONDS or not self.leading:
            from dockyard.controllers import leases

            name, holder = self.controller.name, self.holder
            leading = await self.server.run_in_store(lambda c: leases.try_hold(c, name, holder, now))
            if leading != self.leading:  # worth an operator's attention: logged by default
                log.warning("controller %s: %s", name, "leading" if leading else "no longer leading")
            self.leading, self._lease_checked = leading, now
        return self.leading

    async def _pass(self) -> None:
        """Reconcile every key that is due, each alone: one failing never holds up the others."""
        now = time.time()
        for key in await self.controller.due(now):
            if self._retry_at.get(key, 0.0) > now:
                continue
            try:
                await self.controller.reconcile(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failures += 1
                failures = self._failures.get(key, 0) + 1
                self._failures[key] = failures
                delay = min(MAX_BACKOFF_SECONDS, 2 ** (failures - 1)) * random.uniform(0.5, 1.0)
                self._retry_at[key] = time.time() + delay
                log.exception(
                    "controller %s: reconciling %r failed (%d in a row); next try in %.1f s",
                    self.controller.name,
                    key,
                    failures,
                    delay,
                )
            else:
                self.reconciles += 1
                self._failures.pop(key, None)
                self._retry_at.pop(key, None)

    async def release(self) -> None:
        if self.controller.needs_leader and self.leading:
            from dockyard.controllers import leases

            name, holder = self.controller.name, self.holder
            await self.server.run_in_store(lambda c: leases.release(c, name, holder))


class Runtime:
    """Every controller of this process: started and stopped with the server, woken by name."""

    def __init__(self, server: ServerState) -> None:
        self.server = server
        self.holder = uuid.uuid4().hex
        self._runners: dict[str, Runner] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, controller: Controller) -> None:
        self._runners[controller.name] = Runner(self.server, controller, self.holder)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._tasks = [asyncio.create_task(runner.run()) for runner in self._runners.values()]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for runner in self._runners.values():
            with contextlib.suppress(Exception):
                await runner.release()

    def leading(self, name: str) -> bool:
        runner = self._runners.get(name)
        return runner is not None and runner.leading

    def stats(self) -> dict[str, dict[str, object]]:
        """What each controller of this process did since it started."""
        return {
            name: {
                "leading": runner.leading,
                "reconciles": runner.reconciles,
                "failures": runner.failures,
                "cpu_seconds": getattr(runner.controller, "cpu_seconds", None),  # where it counts it
            }
            for name, runner in self._runners.items()
        }

    def wake(self, name: str) -> None:
        """Have controller ``name`` look for due keys now (safe from any thread)."""
        runner, loop = self._runners.get(name), self._loop
        if runner is None or loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            runner.woken.set()
        else:
            loop.call_soon_threadsafe(runner.woken.set)
