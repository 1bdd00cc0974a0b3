"""The task engine: applies state frames by handing each task to its one owner.

For every frame it lists this agent's containers on the host, lets :func:`plan_sync` split
the tasks, and acts on the plan: new owners adopt, existing owners get the frame, owners of
tasks that left the frame retire, and orphans are stopped and removed. Driver events reach
an owner by task ARN as a poke; the owner then looks for itself.

A finished task's containers stay on the host for ``cleanup_wait`` seconds after they stopped
(ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION, 3 h on ECS), so ``docker inspect`` and ``docker logs``
work on them as on an ECS host; the engine removes them afterwards, once, in one place
(``_remove_task``), whether their owner retired or an agent restart found them as orphans.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from dockyard.agent import labels as names
from dockyard.agent.drivers import Driver, Observed
from dockyard.agent.logs import LogShipper
from dockyard.agent.reporter import Reporter
from dockyard.agent.spec import ContainerSpec, TaskSpec, task_from_frame
from dockyard.agent.status import ContainerStatus
from dockyard.agent.sync import plan_sync
from dockyard.agent.task_owner import RunBlocking, TaskOwner

log = logging.getLogger(__name__)

FINISHED_MEMORY = 10000  # how many retired task ARNs are remembered


class TaskEngine:
    """Owns the task owners of one agent."""

    def __init__(
        self,
        *,
        driver: Driver,
        run_blocking: RunBlocking,
        reporter: Reporter,
        send: Callable[[dict[str, Any]], object],
        logs: LogShipper,
        instance_id: str,
        clock: Callable[[], float] = time.time,
        cleanup_wait: float = 0.0,
    ) -> None:
        self.driver, self.run_blocking, self.reporter = driver, run_blocking, reporter
        self.cleanup_wait = cleanup_wait
        self.send, self.logs, self.instance_id, self.clock = send, logs, instance_id, clock
        self.instance_arn = ""
        self.owners: dict[str, TaskOwner] = {}
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._cleaning: dict[str, asyncio.Task[None]] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self.applied_version: int | None = None

    def bind(self, instance_arn: str) -> None:
        """The container instance ARN new containers are labelled with."""
        self.instance_arn = instance_arn

    def labels_for(self, task: TaskSpec, container: ContainerSpec) -> dict[str, str]:
        return names.container_labels(
            task, container, instance_arn=self.instance_arn, instance_id=self.instance_id
        )

    async def apply_state(self, frame: dict[str, Any]) -> None:
        """Make the host match one full state frame."""
        specs: dict[str, TaskSpec] = {}
        for raw in frame.get("tasks") or ():
            try:
                spec = task_from_frame(raw, str(frame.get("clusterArn", "")))
            except (KeyError, TypeError, ValueError) as error:
                log.warning("skipping a malformed task in state frame: %r", error)
                continue
            specs[spec.arn] = spec
        observed: list[Observed] = await self.run_blocking(self.driver.list_containers)
        on_host: dict[str, list[Observed]] = {}
        for container in observed:
            if container.task_arn:
                on_host.setdefault(container.task_arn, []).append(container)
        plan = plan_sync(specs, self.owners.keys(), on_host, self._finished)
        for arn in plan.ignored:
            log.debug("task %s is finished here; ignoring it", arn)
        for arn in plan.adopt:
            self._start_owner(specs[arn], on_host.get(arn, []))
        for arn in plan.update:
            self.owners[arn].update(specs[arn])
        for arn in plan.retire:
            self.owners[arn].retire()
        for arn in plan.orphans:
            if arn not in self._cleaning:
                self._cleaning[arn] = asyncio.create_task(self._remove_task(arn, on_host[arn]))
        self.applied_version = frame.get("version", self.applied_version)

    def _start_owner(self, spec: TaskSpec, adopted: list[Observed]) -> None:
        if adopted:
            log.info("task %s: adopting %d container(s)", spec.task_id, len(adopted))
        owner = TaskOwner(
            spec,
            driver=self.driver,
            run_blocking=self.run_blocking,
            reporter=self.reporter,
            send=self.send,
            logs=self.logs,
            labels_for=self.labels_for,
            adopted=adopted,
            clock=self.clock,
            keep_containers=self.cleanup_wait > 0,
        )
        self.owners[spec.arn] = owner
        run = asyncio.create_task(owner.run(), name=f"task-{spec.task_id}")
        self._runs[spec.arn] = run
        run.add_done_callback(functools.partial(self._owner_done, spec.arn))

    def _owner_done(self, arn: str, run: asyncio.Task[None]) -> None:
        owner = self.owners.pop(arn, None)
        self._runs.pop(arn, None)
        if run.cancelled():
            return
        if run.exception() is not None:
            log.error("owner of task %s failed", arn, exc_info=run.exception())
        elif owner is not None and owner.retired:
            self._remember_finished(arn)
            if self.cleanup_wait > 0 and arn not in self._cleaning:
                self._cleaning[arn] = asyncio.create_task(self._remove_task(arn, None))

    def _remember_finished(self, arn: str) -> None:
        self._finished[arn] = None
        while len(self._finished) > FINISHED_MEMORY:
            self._finished.popitem(last=False)

    async def _remove_task(self, arn: str, containers: list[Observed] | None) -> None:
        """Stop (as gently as its labels allow) what still runs of a task no one desires, keep
        its containers for ``cleanup_wait`` after they stopped, then remove them."""
        try:
            if containers is None:
                listed: list[Observed] = await self.run_blocking(self.driver.list_containers)
                containers = [c for c in listed if c.task_arn == arn]
            running = [c for c in containers if c.status < ContainerStatus.STOPPED]
            if running:
                log.info("task %s is not desired here: stopping %d container(s)", arn, len(running))
            await asyncio.gather(
                *(
                    self.run_blocking(self.driver.stop, c.runtime_id, names.stop_timeout_of(c.labels))
                    for c in running
                )
            )
            now = self.clock()
            stopped_at = max((c.finished_at or now for c in containers if c not in running), default=now)
            delay = stopped_at + self.cleanup_wait - now
            if delay > 0:
                log.info("task %s: its containers stay on the host for %.0fs", arn, delay)
                await asyncio.sleep(delay)
            for container in containers:
                await self.run_blocking(self.driver.remove, container.runtime_id)
            await self.run_blocking(self.driver.cleanup_task, arn)
            log.info("task %s: containers removed", arn)
            self._remember_finished(arn)
        except Exception:
            log.exception("could not remove the containers of task %s; next frame retries", arn)
        finally:
            self._cleaning.pop(arn, None)

    def poke(self, task_arn: str) -> None:
        owner = self.owners.get(task_arn)
        if owner is not None:
            owner.poke()

    def health_frames(self) -> list[dict[str, Any]]:
        """Every task's current health, to send again on a new connection."""
        frames = (owner.health_frame() for owner in self.owners.values())
        return [frame for frame in frames if frame is not None]

    async def shutdown(self) -> None:
        """Let go of every task without touching the containers (the next start adopts them)."""
        runs = list(self._runs.values()) + list(self._cleaning.values())
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
