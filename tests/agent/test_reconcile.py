"""The pure decisions: next step per container, task desire and status, dependency cycles."""

from __future__ import annotations

import pytest

from dockyard.agent.reconcile import (
    ESSENTIAL_EXITED,
    STOP_CODE_ESSENTIAL_EXITED,
    STOP_CODE_FAILED_TO_START,
    ContainerState,
    Step,
    TaskDesire,
    container_desired,
    dependency_cycle,
    next_step,
    task_desired,
    task_status,
)
from dockyard.agent.status import ContainerStatus, TaskStatus
from tests.agent.builders import state

NONE, PULLED, CREATED, RUNNING, STOPPED = (
    ContainerStatus.NONE,
    ContainerStatus.PULLED,
    ContainerStatus.CREATED,
    ContainerStatus.RUNNING,
    ContainerStatus.STOPPED,
)
NOW = 1000.0


def decide(container: ContainerState, desired: ContainerStatus, *others: ContainerState) -> Step:
    task = {c.name: c for c in (container, *others)}
    return next_step(container, desired, task, NOW).step


SINGLE = [
    ("a new container is pulled first", NONE, RUNNING, Step.PULL),
    ("a pulled container is created", PULLED, RUNNING, Step.CREATE),
    ("a created container is started", CREATED, RUNNING, Step.START),
    ("a running container desired running is left alone", RUNNING, RUNNING, Step.NOTHING),
    ("a running container desired stopped is stopped", RUNNING, STOPPED, Step.STOP),
    ("a container that never ran is marked stopped", NONE, STOPPED, Step.MARK_STOPPED),
    ("a pulled container is marked stopped", PULLED, STOPPED, Step.MARK_STOPPED),
    ("a created but never started container is marked stopped", CREATED, STOPPED, Step.MARK_STOPPED),
    ("a stopped container is never started again", STOPPED, RUNNING, Step.NOTHING),
    ("a stopped container desired stopped needs nothing", STOPPED, STOPPED, Step.NOTHING),
]


@pytest.mark.parametrize(
    ("known", "desired", "step"), [row[1:] for row in SINGLE], ids=[row[0] for row in SINGLE]
)
def test_next_step_without_dependencies(known: ContainerStatus, desired: ContainerStatus, step: Step) -> None:
    assert decide(state("app", known), desired) == step


DEPENDENCIES = [
    ("START waits while the dependency is only created", "START", state("db", CREATED), Step.WAIT),
    ("START is met once the dependency runs", "START", state("db", RUNNING, started=True), Step.CREATE),
    (
        "START is met by a dependency that ran and exited",
        "START",
        state("db", STOPPED, started=True, exit_code=0),
        Step.CREATE,
    ),
    (
        "START can never be met by a dependency that stopped without starting",
        "START",
        state("db", STOPPED),
        Step.MARK_STOPPED,
    ),
    ("COMPLETE waits while the dependency runs", "COMPLETE", state("init", RUNNING), Step.WAIT),
    (
        "COMPLETE is met by any exit",
        "COMPLETE",
        state("init", STOPPED, started=True, exit_code=7),
        Step.CREATE,
    ),
    ("SUCCESS waits while the dependency runs", "SUCCESS", state("init", RUNNING), Step.WAIT),
    (
        "SUCCESS is met by exit code 0",
        "SUCCESS",
        state("init", STOPPED, started=True, exit_code=0),
        Step.CREATE,
    ),
    (
        "SUCCESS can never be met after a non-zero exit",
        "SUCCESS",
        state("init", STOPPED, started=True, exit_code=1),
        Step.MARK_STOPPED,
    ),
    (
        "HEALTHY waits while health is unknown",
        "HEALTHY",
        state("db", RUNNING, has_health_check=True),
        Step.WAIT,
    ),
    (
        "HEALTHY waits while the dependency is unhealthy",
        "HEALTHY",
        state("db", RUNNING, has_health_check=True, health="UNHEALTHY"),
        Step.WAIT,
    ),
    (
        "HEALTHY is met by a healthy running dependency",
        "HEALTHY",
        state("db", RUNNING, has_health_check=True, health="HEALTHY"),
        Step.CREATE,
    ),
    ("HEALTHY can never be met without a health check", "HEALTHY", state("db", RUNNING), Step.MARK_STOPPED),
    (
        "HEALTHY can never be met once the dependency stopped",
        "HEALTHY",
        state("db", STOPPED, has_health_check=True),
        Step.MARK_STOPPED,
    ),
    (
        "a dependency past its startTimeout gives up",
        "HEALTHY",
        state("db", RUNNING, has_health_check=True, running_since=NOW - 61, start_timeout=60),
        Step.MARK_STOPPED,
    ),
    (
        "a dependency within its startTimeout is still waited for",
        "HEALTHY",
        state("db", RUNNING, has_health_check=True, running_since=NOW - 59, start_timeout=60),
        Step.WAIT,
    ),
]


@pytest.mark.parametrize(
    ("condition", "dependency", "step"),
    [row[1:] for row in DEPENDENCIES],
    ids=[row[0] for row in DEPENDENCIES],
)
def test_dependency_gates_creation(condition: str, dependency: ContainerState, step: Step) -> None:
    app = state("app", PULLED, deps={dependency.name: condition})
    assert decide(app, RUNNING, dependency) == step


def test_dependencies_gate_start_too() -> None:
    app = state("app", CREATED, deps={"init": "SUCCESS"})
    assert decide(app, RUNNING, state("init", RUNNING)) == Step.WAIT


def test_pulling_does_not_wait_for_dependencies() -> None:
    app = state("app", NONE, deps={"init": "COMPLETE"})
    assert decide(app, RUNNING, state("init", NONE)) == Step.PULL


def test_a_missing_dependency_fails_with_a_reason() -> None:
    app = state("app", PULLED, deps={"ghost": "START"})
    decision = next_step(app, RUNNING, {"app": app}, NOW)
    assert decision.step is Step.MARK_STOPPED
    assert decision.reason.startswith("DependencyConditionNotMet")
    assert "ghost" in decision.reason


STOP_ORDER = [
    ("a dependency waits for its running dependent to stop", RUNNING, Step.WAIT),
    ("a dependency stops once its dependent stopped", STOPPED, Step.STOP),
    ("a dependent that never got created does not hold the stop", NONE, Step.STOP),
]


@pytest.mark.parametrize(
    ("dependent", "step"), [row[1:] for row in STOP_ORDER], ids=[row[0] for row in STOP_ORDER]
)
def test_stop_order_is_reversed(dependent: ContainerStatus, step: Step) -> None:
    db = state("db", RUNNING)
    app = state("app", dependent, deps={"db": "START"})
    assert decide(db, STOPPED, app) == step


DESIRE = [
    (
        "a running task with running essentials stays running",
        [state("app", RUNNING, started=True)],
        TaskStatus.RUNNING,
        "",
    ),
    (
        "a non-essential exit leaves the task running",
        [state("app", RUNNING, started=True), state("side", STOPPED, essential=False, started=True)],
        TaskStatus.RUNNING,
        "",
    ),
    (
        "an essential exit stops the task",
        [state("app", STOPPED, started=True, exit_code=3), state("side", RUNNING, essential=False)],
        TaskStatus.STOPPED,
        STOP_CODE_ESSENTIAL_EXITED,
    ),
    (
        "an essential container that failed to start fails the task",
        [state("app", STOPPED, reason="CannotPullContainerError: no such image")],
        TaskStatus.STOPPED,
        STOP_CODE_FAILED_TO_START,
    ),
]


@pytest.mark.parametrize(
    ("containers", "desired", "stop_code"), [row[1:] for row in DESIRE], ids=[row[0] for row in DESIRE]
)
def test_task_desired(containers: list[ContainerState], desired: TaskStatus, stop_code: str) -> None:
    desire = task_desired(TaskDesire(TaskStatus.RUNNING), containers)
    assert (desire.desired, desire.stop_code) == (desired, stop_code)


def test_task_desire_carries_the_reason() -> None:
    exited = task_desired(TaskDesire(TaskStatus.RUNNING), [state("app", STOPPED, started=True)])
    assert exited.reason == ESSENTIAL_EXITED
    failed = task_desired(
        TaskDesire(TaskStatus.RUNNING), [state("app", STOPPED, reason="CannotPullContainerError: nope")]
    )
    assert failed.reason == "CannotPullContainerError: nope"


def test_task_desire_never_moves_back() -> None:
    stopped = TaskDesire(TaskStatus.STOPPED)
    assert task_desired(stopped, [state("app", RUNNING, started=True)]) is stopped


STATUS = [
    ("no container has moved", [NONE, NONE], TaskStatus.NONE),
    ("one container pulled makes the task pending", [PULLED, NONE], TaskStatus.PENDING),
    ("one container still created keeps it pending", [RUNNING, CREATED], TaskStatus.PENDING),
    ("every container running makes it running", [RUNNING, RUNNING], TaskStatus.RUNNING),
    ("an early exit next to a running one still reads running", [RUNNING, STOPPED], TaskStatus.RUNNING),
    ("every container stopped makes it stopped", [STOPPED, STOPPED], TaskStatus.STOPPED),
]


@pytest.mark.parametrize(("known", "status"), [row[1:] for row in STATUS], ids=[row[0] for row in STATUS])
def test_task_status(known: list[ContainerStatus], status: TaskStatus) -> None:
    assert task_status(state(f"c{i}", k) for i, k in enumerate(known)) is status


@pytest.mark.parametrize(
    ("task", "container"),
    [(TaskStatus.RUNNING, ContainerStatus.RUNNING), (TaskStatus.STOPPED, ContainerStatus.STOPPED)],
    ids=["a running task wants running containers", "a stopped task wants stopped containers"],
)
def test_container_desired(task: TaskStatus, container: ContainerStatus) -> None:
    assert container_desired(task) is container


def test_a_dependency_cycle_is_found() -> None:
    cycle = dependency_cycle(
        [state("a", deps={"b": "START"}), state("b", deps={"c": "START"}), state("c", deps={"a": "START"})]
    )
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"}


def test_no_cycle_in_a_chain() -> None:
    assert dependency_cycle([state("a", deps={"b": "START"}), state("b"), state("c")]) is None


def test_statuses_are_ordered_and_report_as_ecs_names() -> None:
    assert NONE < PULLED < CREATED < RUNNING < STOPPED
    assert [s.report_name for s in ContainerStatus] == ["PENDING", "PENDING", "PENDING", "RUNNING", "STOPPED"]
    assert TaskStatus.parse_desired("RUNNING") is TaskStatus.RUNNING
    assert TaskStatus.parse_desired("STOPPED") is TaskStatus.STOPPED
