"""What the service scheduler does next: a pure function of the service, its deployments and
its tasks (no store, no clock of its own), tested by tables.

REPLICA (``plan_replica``), as the ECS reference describes a rolling update:
- the PRIMARY deployment's tasks are kept, up to ``desiredCount`` (scale-in stops the rest:
  pending ones first, then from the zone and the instance with the most of the service's);
- tasks of older deployments, on DRAINING instances or failing their health checks after the
  grace period are replaced;
- new tasks start while ``maximumPercent`` of the desired count allows (every task not yet
  STOPPED counts, so a task being stopped still holds its place);
- replaced tasks stop while ``minimumHealthyPercent`` allows: stopping one that is not
  healthy costs nothing, stopping a healthy one needs one healthy task above the minimum.
DAEMON (``plan_daemon``): one task on every eligible instance; a task on an instance that is
no longer eligible stops (on a DRAINING one, once the instance's other tasks are gone).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.ecs.services import config


@dataclass(frozen=True)
class TaskState:
    """One task of the service that has not STOPPED, as the scheduler sees it."""

    id: int
    deployment_id: int | None
    last_status: str
    desired_status: str
    healthy: bool  # RUNNING, and its essential containers with health checks are HEALTHY
    unhealthy: bool  # a health check failed after the grace period: replace it
    instance_id: int | None = None
    zone: str | None = None
    draining: bool = False  # its instance is DRAINING (or gone)
    created_at: float = 0.0


@dataclass(frozen=True)
class ServiceState:
    desired: int
    configuration: dict[str, Any]
    primary_id: int
    launches_allowed: bool = True  # False while throttled or after a FAILED rollout


HEALTH = "health"
SCALE = "scale"
DRAIN = "drain"
REPLACE = "replace"
INELIGIBLE = "ineligible"


@dataclass
class Plan:
    start: int = 0  # REPLICA: tasks of the PRIMARY deployment to launch
    start_on: list[int] = field(default_factory=list)  # DAEMON: one task on each instance
    stop: list[tuple[TaskState, str]] = field(default_factory=list)  # (task, why)

    @property
    def idle(self) -> bool:
        return not (self.start or self.start_on or self.stop)


def scale_in_order(tasks: Sequence[TaskState]) -> list[TaskState]:
    """Which tasks go first when there are too many: not yet RUNNING first, then one at a time
    from the zone with the most, and in it the instance with the most, newest first."""
    pending = sorted((t for t in tasks if t.last_status != "RUNNING"), key=lambda t: -t.created_at)
    running = [t for t in tasks if t.last_status == "RUNNING"]
    zones = Counter(t.zone for t in running)
    hosts = Counter(t.instance_id for t in running)
    ordered: list[TaskState] = []
    left = list(running)
    while left:
        pick = max(left, key=lambda t: (zones[t.zone], hosts[t.instance_id], t.created_at, t.id))
        ordered.append(pick)
        left.remove(pick)
        zones[pick.zone] -= 1
        hosts[pick.instance_id] -= 1
    return pending + ordered


def _stop_within_minimum(
    plan: Plan, candidates: Iterable[TaskState], healthy: int, minimum: int, why: str
) -> None:
    """Stop ``candidates`` (not-healthy ones first, they cost nothing) while the healthy tasks
    left stay at or above ``minimum``."""
    budget = healthy - minimum
    for task in sorted(candidates, key=lambda t: (t.healthy, -t.created_at)):
        if task.healthy:
            if budget <= 0:
                continue
            budget -= 1
        plan.stop.append((task, why))


def plan_replica(service: ServiceState, tasks: Sequence[TaskState]) -> Plan:
    plan = Plan()
    live = [t for t in tasks if t.last_status != "STOPPED"]
    active = [t for t in live if t.desired_status == "RUNNING"]
    for task in active:
        if task.unhealthy:
            plan.stop.append((task, HEALTH))
    active = [t for t in active if not t.unhealthy]
    keep = [t for t in active if t.deployment_id == service.primary_id and not t.draining]
    replace = [t for t in active if t.deployment_id != service.primary_id or t.draining]
    desired = service.desired
    if len(keep) > desired:
        excess = scale_in_order(keep)[: len(keep) - desired]
        plan.stop += [(t, SCALE) for t in excess]
        keep = [t for t in keep if t not in excess]
    maximum = config.maximum_tasks(desired, service.configuration)
    if service.launches_allowed:
        plan.start = max(0, min(desired - len(keep), maximum - len(live)))
    stopping = {t.id for t, _ in plan.stop}
    healthy = sum(1 for t in active if t.healthy and t.id not in stopping)
    minimum = config.minimum_healthy(desired, service.configuration)
    _stop_within_minimum(plan, [t for t in replace if not t.draining], healthy, minimum, REPLACE)
    healthy -= sum(1 for t, why in plan.stop if why == REPLACE and t.healthy)
    _stop_within_minimum(plan, [t for t in replace if t.draining], healthy, minimum, DRAIN)
    return plan


def plan_daemon(
    service: ServiceState,
    tasks: Sequence[TaskState],
    eligible: Sequence[int],
    busy_draining: set[int],
) -> Plan:
    """``eligible``: the ACTIVE, connected instances that satisfy the constraints;
    ``busy_draining``: DRAINING instances that still run other tasks than this service's."""
    plan = Plan()
    live = [t for t in tasks if t.last_status != "STOPPED"]
    active = [t for t in live if t.desired_status == "RUNNING"]
    wanted = set(eligible)
    for task in active:
        if task.unhealthy:
            plan.stop.append((task, HEALTH))
        elif task.instance_id not in wanted and task.instance_id not in busy_draining:
            plan.stop.append((task, DRAIN if task.draining else INELIGIBLE))
    stopping = {t.id for t, _ in plan.stop}
    old = [t for t in active if t.deployment_id != service.primary_id and t.id not in stopping]
    healthy = sum(1 for t in active if t.healthy and t.id not in stopping)
    minimum = config.minimum_healthy(len(wanted), service.configuration)
    _stop_within_minimum(plan, old, healthy, minimum, REPLACE)
    occupied = {t.instance_id for t in live}  # a task still stopping holds its instance
    if service.launches_allowed:
        plan.start_on = [instance for instance in eligible if instance not in occupied]
    return plan
