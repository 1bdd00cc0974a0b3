"""The one owner of one task: it alone moves its containers and writes their statuses.

Each owner runs a loop: look at its containers on the host (forward-only merge into what it
knows), let :mod:`dockyard.agent.reconcile` pick every container's next step, run the
driver calls those steps map to (concurrently, in the thread pool), report what changed,
then sleep until poked (a new frame, a driver event) or a poll interval passes. Because
each turn starts from a fresh look at the host, a missed event or a lost frame only delays
the owner, never misleads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.agent.drivers import Driver, DriverError, LogFollower, NetworkBinding, Observed
from dockyard.agent.logs import LogShipper
from dockyard.agent.reconcile import (
    ContainerState,
    Decision,
    Step,
    TaskDesire,
    container_desired,
    dependency_cycle,
    next_step,
    task_desired,
    task_status,
)
from dockyard.agent.reporter import Reporter
from dockyard.agent.spec import ContainerSpec, TaskSpec
from dockyard.agent.status import ContainerStatus, HealthStatus, TaskStatus

log = logging.getLogger(__name__)

POLL_INTERVAL = 10.0  # a safety net: driver events normally wake the owner at once
WAITING_POLL_INTERVAL = 1.0  # while a dependency is pending (health, startTimeout)
REASON_LIMIT = 255
# A follower ends by itself once its container has stopped and all output is read (at once,
# normally); this bound only keeps a wedged engine stream from holding the task forever.
FOLLOWER_DRAIN_LIMIT = 60.0

RunBlocking = Callable[..., Awaitable[Any]]
LabelsFor = Callable[[TaskSpec, ContainerSpec], dict[str, str]]


@dataclass
class ContainerRecord:
    """What the owner knows of one container; ``absorb`` only ever moves it forward."""

    spec: ContainerSpec
    known: ContainerStatus = ContainerStatus.NONE
    runtime_id: str | None = None
    exit_code: int | None = None
    reason: str = ""
    health: HealthStatus = HealthStatus.UNKNOWN
    bindings: tuple[NetworkBinding, ...] = ()
    started: bool = False
    started_by_us: bool = False
    running_since: float | None = None
    finished_at: float | None = None
    follower: LogFollower | None = field(default=None, repr=False)
    drained: bool = False  # its follower has ended: every line it wrote is with the shipper

    def absorb(self, observed: Observed, now: float) -> None:
        self.runtime_id = observed.runtime_id
        self.known = max(self.known, observed.status)
        if observed.status >= ContainerStatus.RUNNING and (
            observed.status is ContainerStatus.RUNNING or observed.started_at
        ):
            self.started = True
            if self.running_since is None:
                self.running_since = observed.started_at or now
        if observed.status is ContainerStatus.STOPPED:
            if observed.exit_code is not None:
                self.exit_code = observed.exit_code
            self.finished_at = observed.finished_at or self.finished_at or now
        if observed.reason:
            self.reason = observed.reason
        self.health = observed.health
        if observed.network_bindings:
            self.bindings = observed.network_bindings

    def state(self) -> ContainerState:
        return ContainerState(
            name=self.spec.name,
            known=self.known,
            essential=self.spec.essential,
            depends_on=self.spec.depends_on,
            exit_code=self.exit_code,
            health=self.health,
            has_health_check=self.spec.has_health_check,
            started=self.started,
            running_since=self.running_since,
            start_timeout=self.spec.start_timeout,
            reason=self.reason,
        )

    def report(self) -> dict[str, Any]:
        """This container in the ContainerStateChange shape (unset members left out)."""
        report: dict[str, Any] = {"containerName": self.spec.name, "status": self.known.report_name}
        if self.runtime_id:
            report["runtimeId"] = self.runtime_id
        if self.exit_code is not None and self.known is ContainerStatus.STOPPED:
            report["exitCode"] = self.exit_code
        if self.reason:
            report["reason"] = self.reason[:REASON_LIMIT]
        if self.bindings:
            report["networkBindings"] = [binding.to_report() for binding in self.bindings]
        return report


class TaskOwner:
    """Drives one task's containers to its desired status and reports every change."""

    def __init__(
        self,
        spec: TaskSpec,
        *,
        driver: Driver,
        run_blocking: RunBlocking,
        reporter: Reporter,
        send: Callable[[dict[str, Any]], object],
        logs: LogShipper,
        labels_for: LabelsFor,
        adopted: Sequence[Observed] = (),
        clock: Callable[[], float] = time.time,
        keep_containers: bool = False,
    ) -> None:
        self.spec = spec
        self.keep_containers = keep_containers  # the engine removes them after the cleanup wait
        self.driver, self.run_blocking, self.reporter = driver, run_blocking, reporter
        self.send, self.logs, self.labels_for, self.clock = send, logs, labels_for, clock
        self.desire = TaskDesire(spec.desired)
        self.records = {container.name: ContainerRecord(container) for container in spec.containers}
        self.strays: list[str] = []  # containers of this task the spec does not name
        for observed in adopted:
            record = self.records.get(observed.container_name)
            if record is None or (record.runtime_id and record.runtime_id != observed.runtime_id):
                self.strays.append(observed.runtime_id)
            else:
                record.absorb(observed, clock())
        self.known_status = TaskStatus.NONE
        self.reported_status = TaskStatus.NONE
        self.reported: dict[str, dict[str, Any]] = {}
        self.health_sent: dict[str, str] = {}
        self.pull_started_at: float | None = None
        self.pull_stopped_at: float | None = None
        self.retired = False
        self._wake = asyncio.Event()
        self._steps: dict[Step, Callable[[ContainerRecord], Awaitable[None]]] = {
            Step.PULL: self._pull,
            Step.CREATE: self._create,
            Step.START: self._start,
            Step.STOP: self._stop,
        }

    @property
    def arn(self) -> str:
        return self.spec.arn

    # -- inputs ------------------------------------------------------------------------------
    def update(self, spec: TaskSpec) -> None:
        """A new frame named this task: its desired status may only move forward."""
        if spec.desired > self.desire.desired:
            self.desire = TaskDesire(spec.desired)
        self.poke()

    def retire(self) -> None:
        """The task left the desired state: stop what runs, then remove everything."""
        self.retired = True
        if self.desire.desired is not TaskStatus.STOPPED:
            self.desire = TaskDesire(TaskStatus.STOPPED)
        self.poke()

    def poke(self) -> None:
        self._wake.set()

    # -- the loop --------------------------------------------------------------------------
    async def run(self) -> None:
        cycle = dependency_cycle(record.state() for record in self.records.values())
        if cycle:
            why = "DependencyConditionNotMet: dependency cycle " + " -> ".join(cycle)
            for record in self.records.values():
                if record.known < ContainerStatus.RUNNING:
                    record.known, record.reason = ContainerStatus.STOPPED, why
        try:
            while True:
                self._wake.clear()
                try:
                    if await self._turn():
                        return
                except Exception:  # the owner must outlive a flaky engine; the next turn retries
                    log.exception("task %s: turn failed; retrying", self.spec.task_id)
                    await self._sleep(2.0)
        finally:
            self._stop_followers()

    async def _turn(self) -> bool:
        """One look-decide-act round; True once a retired task is cleaned up."""
        await self._refresh()
        states = {name: record.state() for name, record in self.records.items()}
        self.desire = task_desired(self.desire, states.values())
        desired = container_desired(self.desire.desired)
        now = self.clock()
        decisions = {name: next_step(state, desired, states, now) for name, state in states.items()}
        marked = [name for name, decision in decisions.items() if decision.step is Step.MARK_STOPPED]
        for name in marked:
            self._mark_stopped(self.records[name], decisions[name])
        if marked:
            return False  # decide again on the new facts (an essential failure stops the task)
        self._follow_logs()  # before the report: a container that is already gone is read too
        await self._drain_logs()  # a STOPPED report never overtakes the container's output
        self._report()
        self._send_health()
        actions = [
            (self.records[name], decision)
            for name, decision in decisions.items()
            if decision.step in self._steps
        ]
        for record, decision in actions:
            log.info("task %s container %s: %s", self.spec.task_id, record.spec.name, decision.step.value)
        if actions:
            await asyncio.gather(*(self._steps[d.step](record) for record, d in actions))
            return False
        if self.retired and all(r.known is ContainerStatus.STOPPED for r in self.records.values()):
            await self._cleanup()
            return True
        waiting = any(decision.step is Step.WAIT for decision in decisions.values())
        await self._sleep(WAITING_POLL_INTERVAL if waiting else POLL_INTERVAL)
        return False

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _refresh(self) -> None:
        for record in self.records.values():
            if not record.runtime_id or record.known is ContainerStatus.STOPPED:
                continue
            observed = await self.run_blocking(self.driver.inspect, record.runtime_id)
            if observed is None:  # removed behind our back: it is not running any more
                record.known = ContainerStatus.STOPPED
                record.reason = record.reason or "The container was removed from the host"
                record.finished_at = record.finished_at or self.clock()
            else:
                record.absorb(observed, self.clock())

    def _mark_stopped(self, record: ContainerRecord, decision: Decision) -> None:
        record.known = ContainerStatus.STOPPED
        if decision.reason:
            record.reason = decision.reason
            log.info("task %s container %s: %s", self.spec.task_id, record.spec.name, decision.reason)

    # -- the step table's driver calls ------------------------------------------------------
    async def _pull(self, record: ContainerRecord) -> None:
        self.pull_started_at = self.pull_started_at or self.clock()
        try:
            await self.run_blocking(self.driver.pull, self.spec, record.spec)
        except DriverError as error:
            self._failed(record, error)
            return
        finally:
            self.pull_stopped_at = self.clock()
        record.known = max(record.known, ContainerStatus.PULLED)

    async def _create(self, record: ContainerRecord) -> None:
        labels = self.labels_for(self.spec, record.spec)
        try:
            observed = await self.run_blocking(self.driver.create, self.spec, record.spec, labels)
        except DriverError as error:
            self._failed(record, error)
            return
        record.absorb(observed, self.clock())

    async def _start(self, record: ContainerRecord) -> None:
        assert record.runtime_id is not None
        try:
            observed = await self.run_blocking(self.driver.start, record.runtime_id)
        except DriverError as error:
            self._failed(record, error)
            return
        record.started_by_us = True
        record.absorb(observed, self.clock())
        record.started = True
        record.running_since = record.running_since or self.clock()

    async def _stop(self, record: ContainerRecord) -> None:
        assert record.runtime_id is not None
        try:
            observed = await self.run_blocking(self.driver.stop, record.runtime_id, record.spec.stop_timeout)
        except DriverError as error:
            log.warning("task %s container %s: %s", self.spec.task_id, record.spec.name, error.reason)
            await asyncio.sleep(1.0)  # the next turn tries again
            return
        if observed is None:
            record.known = ContainerStatus.STOPPED
        else:
            record.absorb(observed, self.clock())

    def _failed(self, record: ContainerRecord, error: DriverError) -> None:
        log.warning("task %s container %s: %s", self.spec.task_id, record.spec.name, error.reason)
        record.known, record.reason = ContainerStatus.STOPPED, error.reason

    async def _drain_logs(self) -> None:
        """Wait for the followers of stopped containers to end, then ship the task's lines.

        A follower ends by itself once its container has stopped and its output is read to
        the end; only then are all its lines with the shipper, and only once they are written
        to the socket may the container's STOPPED be reported or its output removed. If the
        channel is down the lines stay buffered and go up on the next connection."""
        finished = [
            record
            for record in self.records.values()
            if record.known is ContainerStatus.STOPPED and not record.drained
        ]
        for record in finished:
            if record.follower is not None:
                await self.run_blocking(record.follower.join, FOLLOWER_DRAIN_LIMIT)
                if record.follower.is_alive():
                    log.warning(
                        "task %s container %s: its output did not end within %gs",
                        self.spec.task_id,
                        record.spec.name,
                        FOLLOWER_DRAIN_LIMIT,
                    )
            record.drained = True
        if finished:  # also waits for a batch of this task the periodic flush has under way
            await self.logs.ship(self.spec.arn)

    async def _cleanup(self) -> None:
        await self._drain_logs()  # the last lines before the container and its files go
        self._stop_followers()
        if self.keep_containers:
            return
        ids = [record.runtime_id for record in self.records.values() if record.runtime_id]
        for runtime_id in ids + self.strays:
            await self.run_blocking(self.driver.remove, runtime_id)
        await self.run_blocking(self.driver.cleanup_task, self.spec.arn)
        log.info("task %s: containers removed", self.spec.task_id)

    # -- outputs ---------------------------------------------------------------------------
    def _report(self) -> None:
        if self.retired:
            return  # the control plane has let go of this task; nobody wants its news
        self.known_status = max(
            self.known_status, task_status(record.state() for record in self.records.values())
        )
        reports = {name: record.report() for name, record in self.records.items()}
        cluster, task = self.spec.cluster_arn, self.spec.arn
        if self.known_status > self.reported_status:
            params: dict[str, Any] = {
                "cluster": cluster,
                "task": task,
                "status": self.known_status.name,
                "containers": list(reports.values()),
            }
            if self.known_status is TaskStatus.STOPPED:
                if self.desire.reason:
                    params["reason"] = self.desire.reason[:REASON_LIMIT]
                finished = [r.finished_at for r in self.records.values() if r.finished_at]
                params["executionStoppedAt"] = max(finished) if finished else self.clock()
            if self.pull_started_at is not None:
                params["pullStartedAt"] = self.pull_started_at
            if self.pull_stopped_at is not None:
                params["pullStoppedAt"] = self.pull_stopped_at
            self.reporter.task_change(params)
            self.reported_status = self.known_status
            self.reported = reports
            return
        for name, report in reports.items():
            if report != self.reported.get(name) and report["status"] != "PENDING":
                self.reporter.container_change({"cluster": cluster, "task": task, **report})
                self.reported[name] = report

    def health_frame(self) -> dict[str, Any] | None:
        """The task's current health frame, or None if no container has a health check."""
        containers = [
            {"containerName": name, "healthStatus": record.health.value}
            for name, record in self.records.items()
            if record.spec.has_health_check
        ]
        if not containers or self.retired:
            return None
        return {"type": "health", "taskArn": self.spec.arn, "containers": containers}

    def _send_health(self) -> None:
        current = {
            name: record.health.value for name, record in self.records.items() if record.spec.has_health_check
        }
        if current and current != self.health_sent:
            frame = self.health_frame()
            if frame is not None:
                self.send(frame)
            self.health_sent = current

    def _follow_logs(self) -> None:
        for record in self.records.values():
            if record.follower is not None or not record.runtime_id or not record.started:
                continue
            if record.started_by_us:
                since = None  # everything it wrote: we started it
            elif record.known is ContainerStatus.RUNNING:
                since = self.clock()  # adopted: its earlier output went up before the restart
            else:
                continue
            sink = functools.partial(self.logs.add, self.spec.arn, record.spec.name)
            record.follower = self.driver.follow_logs(record.runtime_id, since, sink)

    def _stop_followers(self) -> None:
        for record in self.records.values():
            if record.follower is not None:
                record.follower.stop()
