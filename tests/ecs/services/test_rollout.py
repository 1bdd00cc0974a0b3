"""The service scheduler's decisions, step by step, as the ECS reference describes them."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from dockyard.ecs.services import config
from dockyard.ecs.services.rollout import (
    DRAIN,
    HEALTH,
    REPLACE,
    SCALE,
    Plan,
    ServiceState,
    TaskState,
    plan_daemon,
    plan_replica,
    scale_in_order,
)

OLD, NEW = 1, 2
_ids = itertools.count(1)


def task(deployment: int = NEW, status: str = "RUNNING", **extra: object) -> TaskState:
    healthy = status == "RUNNING" and not extra.get("unhealthy")
    values: dict[str, object] = {
        "id": next(_ids),
        "deployment_id": deployment,
        "last_status": status,
        "desired_status": "RUNNING",
        "healthy": healthy,
        "unhealthy": False,
        **extra,
    }
    return TaskState(**values)  # type: ignore[arg-type]


def service(desired: int, minimum: int = 100, maximum: int = 200, **extra: object) -> ServiceState:
    configuration = config.deployment_configuration(
        {"minimumHealthyPercent": minimum, "maximumPercent": maximum}, "REPLICA"
    )
    return ServiceState(desired, configuration, NEW, **extra)  # type: ignore[arg-type]


def simulate(state: ServiceState, tasks: list[TaskState], steps: int = 20) -> list[tuple[int, int]]:
    """Run the plan to its end, starting tasks as PENDING, then RUNNING at the next step, and
    stopping what it stops; returns (running, live) after every step."""
    seen = []
    for _ in range(steps):
        pending = any(t.last_status != "RUNNING" for t in tasks)
        plan = plan_replica(state, tasks)
        stopped = {t.id for t, _ in plan.stop}
        # What was PENDING runs now; what was asked to stop is gone.
        tasks = [replace(t, last_status="RUNNING", healthy=True) for t in tasks if t.id not in stopped]
        tasks += [task(NEW, "PENDING", healthy=False) for _ in range(plan.start)]
        running = sum(1 for t in tasks if t.last_status == "RUNNING")
        seen.append((running, len(tasks)))
        if plan.idle and not pending:
            break
    assert all(t.deployment_id == NEW for t in tasks), "every old task was replaced"
    assert len(tasks) == state.desired
    return seen


def test_min_50_max_200_starts_four_and_stops_two_at_once() -> None:
    """The reference: desiredCount 4, minimum 50 %: two old tasks may stop before new ones run;
    maximum 200 %: four new ones may start before old ones stop."""
    old = [task(OLD) for _ in range(4)]
    plan = plan_replica(service(4, 50, 200), old)
    assert plan.start == 4
    assert len(plan.stop) == 2 and {why for _, why in plan.stop} == {REPLACE}


def test_min_100_max_200_starts_four_and_stops_none_until_they_run() -> None:
    old = [task(OLD) for _ in range(4)]
    plan = plan_replica(service(4, 100, 200), old)
    assert (plan.start, plan.stop) == (4, [])
    new = [task(NEW) for _ in range(4)]
    plan = plan_replica(service(4, 100, 200), old + new)
    assert plan.start == 0 and len(plan.stop) == 4


def test_min_50_max_100_stops_two_before_starting_two() -> None:
    old = [task(OLD) for _ in range(4)]
    plan = plan_replica(service(4, 50, 100), old)
    assert plan.start == 0 and len(plan.stop) == 2


@pytest.mark.parametrize(
    ("minimum", "maximum"), [(50, 200), (100, 200), (50, 100), (0, 100), (75, 125), (100, 150)]
)
def test_a_rolling_update_stays_within_its_bounds(minimum: int, maximum: int) -> None:
    state = service(4, minimum, maximum)
    for running, live in simulate(state, [task(OLD) for _ in range(4)]):
        assert running >= config.minimum_healthy(4, state.configuration)
        assert live <= config.maximum_tasks(4, state.configuration)


def test_a_task_that_fails_its_health_check_is_replaced() -> None:
    tasks = [task(NEW) for _ in range(2)] + [task(NEW, unhealthy=True, healthy=False)]
    plan = plan_replica(service(3), tasks)
    assert [why for _, why in plan.stop] == [HEALTH]
    assert plan.start == 1


def test_scale_out_and_in() -> None:
    assert plan_replica(service(5), [task() for _ in range(2)]).start == 3
    plan = plan_replica(service(1), [task() for _ in range(3)])
    assert plan.start == 0 and [why for _, why in plan.stop] == [SCALE, SCALE]


def test_scale_in_balances_zones_and_takes_pending_tasks_first() -> None:
    a1, a2, a3 = (task(zone="a", instance_id=i) for i in (1, 2, 3))
    b1 = task(zone="b", instance_id=4)
    pending = task(status="PENDING", zone="b", instance_id=4, healthy=False)
    order = scale_in_order([a1, b1, a2, pending, a3])
    assert order[0] is pending
    assert {t.zone for t in order[1:3]} == {"a"}, "the zone with the most goes first"


def test_tasks_on_a_draining_instance_move_within_the_minimum() -> None:
    stay = [task(instance_id=1) for _ in range(2)]
    draining = [task(instance_id=2, draining=True) for _ in range(2)]
    plan = plan_replica(service(4, 100, 200), stay + draining)
    assert plan.start == 2 and plan.stop == [], "replacements first: the minimum is 100 %"
    replacements = [task(instance_id=1) for _ in range(2)]
    plan = plan_replica(service(4, 100, 200), stay + draining + replacements)
    assert sorted(why for _, why in plan.stop) == [DRAIN, DRAIN]


def test_pending_tasks_on_a_draining_instance_stop_at_once() -> None:
    pending = task(status="PENDING", healthy=False, draining=True)
    plan = plan_replica(service(1, 100, 100), [pending])
    assert [why for _, why in plan.stop] == [DRAIN]


def test_no_launch_while_throttled_or_failed() -> None:
    assert plan_replica(service(3, launches_allowed=False), []).start == 0


def test_a_steady_service_does_nothing() -> None:
    assert plan_replica(service(3), [task() for _ in range(3)]).idle


def test_a_daemon_runs_one_task_on_each_eligible_instance() -> None:
    state = ServiceState(0, config.deployment_configuration(None, "DAEMON"), NEW)
    tasks = [task(instance_id=1), task(instance_id=5, draining=True), task(instance_id=6, draining=True)]
    plan: Plan = plan_daemon(state, tasks, eligible=[1, 2, 3], busy_draining={6})
    assert plan.start_on == [2, 3]
    assert [(t.instance_id, why) for t, why in plan.stop] == [(5, DRAIN)], "6 still runs other tasks"


def test_a_daemon_deployment_replaces_each_old_task() -> None:
    state = ServiceState(0, config.deployment_configuration(None, "DAEMON"), NEW)
    plan = plan_daemon(
        state, [task(OLD, instance_id=1), task(OLD, instance_id=2)], eligible=[1, 2], busy_draining=set()
    )
    assert len(plan.stop) == 2 and plan.start_on == [], "the old task leaves its instance first"


@pytest.mark.parametrize(("desired", "threshold"), [(1, 3), (4, 3), (7, 4), (100, 50), (1000, 200)])
def test_the_circuit_breaker_threshold(desired: int, threshold: int) -> None:
    assert config.circuit_breaker_threshold(desired) == threshold
