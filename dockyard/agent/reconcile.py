"""The agent's decisions, as pure functions of what is known and what is desired.

Design (after the ECS agent's task engine, re-thought for level triggering):

* Every container has a *known* status (what the host shows) and a *desired* one (RUNNING
  while its task is desired RUNNING, else STOPPED). Both are ordered enums and only move
  forward, so a stale observation or a repeated frame can never walk a container back.
* :func:`next_step` maps (known, desired, the states of its dependencies) to one
  :class:`Step`; the task owner holds a table from step to driver call. Nothing here does
  I/O or reads a clock: ``now`` is an argument, so every branch is a table-driven unit test.
* Start order follows ``dependsOn`` (START, COMPLETE, SUCCESS, HEALTHY); a dependency that
  can no longer be met fails the dependent container instead of leaving it waiting forever.
  Stop order is the reverse: a container stops only once the containers depending on it
  have stopped.
* :func:`task_desired` lets a task's desired status move to STOPPED by itself when an
  essential container stops (it exited, or could not be pulled, created or started), and
  :func:`task_status` derives the task status to report from its containers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from dockyard.agent.spec import Dependency
from dockyard.agent.status import Condition, ContainerStatus, HealthStatus, TaskStatus

ESSENTIAL_EXITED = "Essential container in task exited"
STOP_CODE_ESSENTIAL_EXITED = "EssentialContainerExited"
STOP_CODE_FAILED_TO_START = "TaskFailedToStart"


class Step(Enum):
    """What to do next with one container."""

    NOTHING = "nothing"  # known has reached desired, or STOPPED (terminal)
    WAIT = "wait"  # a dependency may still reach its condition
    PULL = "pull"
    CREATE = "create"
    START = "start"
    STOP = "stop"
    MARK_STOPPED = "mark_stopped"  # never ran: becomes STOPPED without a driver call


@dataclass(frozen=True)
class Decision:
    step: Step
    reason: str = ""


@dataclass(frozen=True)
class ContainerState:
    """What the owner knows about one container, as the pure functions need it."""

    name: str
    known: ContainerStatus = ContainerStatus.NONE
    essential: bool = True
    depends_on: tuple[Dependency, ...] = ()
    exit_code: int | None = None
    health: HealthStatus = HealthStatus.UNKNOWN
    has_health_check: bool = False
    started: bool = False  # has ever run (so a STOPPED container exited rather than failed)
    running_since: float | None = None
    start_timeout: float | None = None
    reason: str = ""


class _Resolution(Enum):
    MET = "met"
    PENDING = "pending"
    NEVER = "never"


def _resolve(dependency: Dependency, target: ContainerState | None, now: float) -> tuple[_Resolution, str]:
    if target is None:
        return _Resolution.NEVER, f"dependency {dependency.container} is not in the task"
    known, condition = target.known, dependency.condition
    if condition is Condition.START:
        stopped = known is ContainerStatus.STOPPED
        if known is ContainerStatus.RUNNING or (stopped and target.started):
            return _Resolution.MET, ""
        if stopped:
            return _Resolution.NEVER, f"dependency {target.name} stopped without starting"
    elif condition is Condition.COMPLETE:
        if known is ContainerStatus.STOPPED:
            return _Resolution.MET, ""
    elif condition is Condition.SUCCESS:
        if known is ContainerStatus.STOPPED:
            if target.exit_code == 0:
                return _Resolution.MET, ""
            return _Resolution.NEVER, (
                f"dependency {target.name} exited with code {target.exit_code}, condition SUCCESS needs 0"
            )
    elif condition is Condition.HEALTHY:
        if not target.has_health_check:
            return _Resolution.NEVER, f"dependency {target.name} has no health check"
        if target.health is HealthStatus.HEALTHY and known is ContainerStatus.RUNNING:
            return _Resolution.MET, ""
        if known is ContainerStatus.STOPPED:
            return _Resolution.NEVER, f"dependency {target.name} stopped before it was healthy"
    timeout = target.start_timeout
    since = target.running_since
    if timeout is not None and since is not None and now - since > timeout:
        return _Resolution.NEVER, (
            f"dependency {target.name} did not reach {condition.value} within {timeout:g}s"
        )
    return _Resolution.PENDING, ""


def dependencies_resolution(
    container: ContainerState, task: Mapping[str, ContainerState], now: float
) -> Decision | None:
    """None when every dependency is met; else WAIT, or MARK_STOPPED if one never can be."""
    waiting: Decision | None = None
    for dependency in container.depends_on:
        outcome, why = _resolve(dependency, task.get(dependency.container), now)
        if outcome is _Resolution.NEVER:
            return Decision(Step.MARK_STOPPED, f"DependencyConditionNotMet: {why}")
        if outcome is _Resolution.PENDING and waiting is None:
            waiting = Decision(
                Step.WAIT, f"waiting for {dependency.container} ({dependency.condition.value})"
            )
    return waiting


def dependents_running(name: str, task: Mapping[str, ContainerState]) -> list[str]:
    """Containers that depend on ``name`` and have not stopped yet (they stop first)."""
    return [
        other.name
        for other in task.values()
        if any(dep.container == name for dep in other.depends_on)
        and ContainerStatus.NONE < other.known < ContainerStatus.STOPPED
    ]


def next_step(
    container: ContainerState, desired: ContainerStatus, task: Mapping[str, ContainerState], now: float
) -> Decision:
    """The one next step that moves ``container`` from its known towards its desired status."""
    known = container.known
    if known is ContainerStatus.STOPPED:
        return Decision(Step.NOTHING)
    if desired is ContainerStatus.STOPPED:
        if known < ContainerStatus.RUNNING:
            return Decision(Step.MARK_STOPPED)
        if dependents_running(container.name, task):
            return Decision(Step.WAIT, "waiting for its dependents to stop")
        return Decision(Step.STOP)
    if known >= desired:
        return Decision(Step.NOTHING)
    if known is ContainerStatus.NONE:
        return Decision(Step.PULL)
    blocked = dependencies_resolution(container, task, now)
    if blocked is not None:
        return blocked
    return Decision(Step.CREATE if known is ContainerStatus.PULLED else Step.START)


def container_desired(task_desired_status: TaskStatus) -> ContainerStatus:
    return ContainerStatus.RUNNING if task_desired_status is TaskStatus.RUNNING else ContainerStatus.STOPPED


@dataclass(frozen=True)
class TaskDesire:
    """A task's desired status and, when the agent itself decided to stop it, why."""

    desired: TaskStatus
    reason: str = ""
    stop_code: str = ""


def task_desired(current: TaskDesire, containers: Iterable[ContainerState]) -> TaskDesire:
    """Stop the task once an essential container has stopped; never move back to RUNNING."""
    if current.desired is TaskStatus.STOPPED:
        return current
    for container in containers:
        if container.essential and container.known is ContainerStatus.STOPPED:
            if container.started:
                return TaskDesire(TaskStatus.STOPPED, ESSENTIAL_EXITED, STOP_CODE_ESSENTIAL_EXITED)
            reason = container.reason or f"Container {container.name} could not be started"
            return TaskDesire(TaskStatus.STOPPED, reason, STOP_CODE_FAILED_TO_START)
    return current


def task_status(containers: Iterable[ContainerState]) -> TaskStatus:
    """The task status its containers add up to: STOPPED when all stopped, RUNNING when all
    have at least started, PENDING once any has moved, else NONE."""
    known = [container.known for container in containers]
    if not known:
        return TaskStatus.NONE
    lowest = min(known)
    if lowest is ContainerStatus.STOPPED:
        return TaskStatus.STOPPED
    if lowest >= ContainerStatus.RUNNING:
        return TaskStatus.RUNNING
    if max(known) > ContainerStatus.NONE:
        return TaskStatus.PENDING
    return TaskStatus.NONE


def dependency_cycle(containers: Iterable[ContainerState]) -> list[str] | None:
    """A list of container names forming a dependency cycle, or None (such a task can't start)."""
    graph = {c.name: [d.container for d in c.depends_on] for c in containers}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in visiting:
            return visiting[visiting.index(name) :] + [name]
        if name in done or name not in graph:
            return None
        visiting.append(name)
        for target in graph[name]:
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(name)
        return None

    for name in graph:
        cycle = visit(name)
        if cycle:
            return cycle
    return None
