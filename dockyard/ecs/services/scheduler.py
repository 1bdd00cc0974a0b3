"""The service scheduler's effect: read one service, its deployments and tasks; ask
``rollout`` what to do; do it (launch through ``task_launch``, stop through
``task_lifecycle``); keep the deployments' states, the events and the next wake-up.

One call reconciles one service in one transaction, holding the service's row lock, so an
UpdateService or another replica's scheduler never interleaves with it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, select, update

from dockyard.context import RequestContext
from dockyard.ecs import clusters, placement_cache, task_definitions, task_launch
from dockyard.ecs.container_instances import INSTANCE_LOST_SECONDS, LAST_CONTACT
from dockyard.ecs.services import config, deployments, events, records, rollout
from dockyard.ecs.task_lifecycle import mark_stopped, request_stop
from dockyard.errors import ApiError
from dockyard.placement.constraints import MemberOf, constraint_filters
from dockyard.store.schema import container_instances, service_deployments, service_wakeups, services, tasks

MAX_LAUNCH_PER_PASS = 50  # bounds one reconcile; more waits for the next pass, at once
THROTTLE_AFTER_FAILURES = 4  # consecutive failed tasks before launches are spaced out
STABLE_SECONDS = 30.0  # a task up this long ends a streak of failures
MAX_THROTTLE_SECONDS = 900.0
DEFAULT_STRATEGY = (
    {"type": "spread", "field": "attribute:ecs.availability-zone"},
    {"type": "spread", "field": "instanceId"},
)

_STOP_REASONS = {
    rollout.HEALTH: "Task failed container health checks",
    rollout.INELIGIBLE: "Task stopped because its container instance no longer satisfies the service",
}


def reconcile(ctx: RequestContext, service_id: int) -> float | None:
    """Bring one service a step closer to what it wants; returns when it is due again (None:
    when something wakes it)."""
    service = records.by_id(ctx, service_id, lock=True)
    failed = _take_wakeups(ctx, service_id)
    if service is None or service.status == "INACTIVE":
        return None
    if failed:
        _count_failures(ctx, service_id, failed)
        service = records.by_id(ctx, service_id)
    cluster = clusters.find(ctx, service.cluster_name) if service is not None else None
    current = deployments.current(ctx, service_id)
    if service is None or cluster is None or not current:
        return None
    return _State(ctx, service, cluster, current).run(current[0])


def _take_wakeups(ctx: RequestContext, service_id: int) -> dict[int, int]:
    """Consume the service's wake-ups committed so far; its failed tasks per deployment."""
    rows = ctx.conn.execute(
        select(service_wakeups.c.id, service_wakeups.c.deployment_id, service_wakeups.c.failed).where(
            service_wakeups.c.service_id == service_id
        )
    ).all()
    if not rows:
        return {}
    ctx.conn.execute(
        delete(service_wakeups).where(
            service_wakeups.c.service_id == service_id, service_wakeups.c.id <= max(row.id for row in rows)
        )
    )
    failed: dict[int, int] = {}
    for row in rows:
        if row.failed and row.deployment_id is not None:
            failed[row.deployment_id] = failed.get(row.deployment_id, 0) + 1
    return failed


def _count_failures(ctx: RequestContext, service_id: int, failed: dict[int, int]) -> None:
    """Add failed tasks to their deployments and to the service's streak."""
    for deployment_id, count in failed.items():
        ctx.conn.execute(
            update(service_deployments)
            .where(service_deployments.c.id == deployment_id)
            .values(failed_tasks=service_deployments.c.failed_tasks + count)
        )
    ctx.conn.execute(
        update(services)
        .where(services.c.id == service_id)
        .values(failure_streak=services.c.failure_streak + sum(failed.values()))
    )


class _State:
    def __init__(
        self, ctx: RequestContext, service: Row[Any], cluster: Row[Any], current: list[Row[Any]]
    ) -> None:
        self.ctx = ctx
        self.service = service
        self.cluster = cluster
        self.deployments = current
        self.events: list[dict[str, Any]] = list(service.events)
        self.next_due: float | None = None
        self.values: dict[str, Any] = {}
        self.definitions: dict[str, dict[str, Any]] = {}

    # -- reading ---------------------------------------------------------------------------

    def _definition(self, arn: str) -> dict[str, Any]:
        if arn not in self.definitions:
            self.definitions[arn] = task_definitions.render(task_definitions.resolve(self.ctx, arn))
        return self.definitions[arn]

    def _task_rows(self) -> list[Row[Any]]:
        return list(
            self.ctx.conn.execute(
                select(tasks)
                .where(
                    tasks.c.account_id == self.ctx.account_id,
                    tasks.c.region == self.ctx.region,
                    tasks.c.cluster_name == self.service.cluster_name,
                    tasks.c.service_name == self.service.name,
                    tasks.c.deployment_id.in_([d.id for d in self.deployments]),
                    tasks.c.last_status != "STOPPED",
                )
                .order_by(tasks.c.id)
                .with_for_update()  # stops are written from what is read here: a report must wait
            )
        )

    def _abandon_lost(self, rows: list[Row[Any]]) -> list[Row[Any]]:
        """Tasks whose instance's agent has been silent for INSTANCE_LOST_SECONDS went with
        their host: they are marked STOPPED (the agent, if it ever comes back, removes their
        containers) and the rest of the pass replaces them. The other rows are returned."""
        ids = {row.container_instance_id for row in rows if row.container_instance_id is not None}
        if not ids:
            return rows
        lost = set(
            self.ctx.conn.execute(
                select(container_instances.c.id).where(
                    container_instances.c.id.in_(ids),
                    self.ctx.now - INSTANCE_LOST_SECONDS > LAST_CONTACT,
                )
            ).scalars()
        )
        if not lost:
            return rows
        gone = [row for row in rows if row.container_instance_id in lost]
        for row in gone:
            mark_stopped(
                self.ctx,
                row,
                stop_code="ServiceSchedulerInitiated",
                reason="Task stopped because its container instance was lost (its agent stopped answering)",
            )
        self.events = events.add(
            self.ctx,
            self.events,
            events.tasks_stopped(self.service.name, [r.task_id for r in gone], "lost"),
        )
        return [row for row in rows if row.container_instance_id not in lost]

    def _task_states(self, rows: list[Row[Any]]) -> list[rollout.TaskState]:
        instance_ids = {row.container_instance_id for row in rows if row.container_instance_id is not None}
        instances = (
            {
                row.id: row
                for row in self.ctx.conn.execute(
                    select(
                        container_instances.c.id,
                        container_instances.c.status,
                        container_instances.c.last_seen_at,
                    ).where(container_instances.c.id.in_(instance_ids))
                )
            }
            if instance_ids
            else {}
        )
        grace = self.service.body.get("healthCheckGracePeriodSeconds") or 0
        states = []
        for row in rows:
            healthy, unhealthy = self._health(row, grace)
            states.append(
                rollout.TaskState(
                    id=row.id,
                    deployment_id=row.deployment_id,
                    last_status=row.last_status,
                    desired_status=row.desired_status,
                    healthy=healthy,
                    unhealthy=unhealthy,
                    instance_id=row.container_instance_id,
                    zone=(row.attributes or {}).get("availabilityZone"),
                    draining=getattr(instances.get(row.container_instance_id), "status", "INACTIVE")
                    != "ACTIVE",
                    created_at=row.created_at,
                )
            )
        return states

    def _health(self, row: Row[Any], grace: float) -> tuple[bool, bool]:
        """(healthy, unhealthy) of a task: only its essential containers with health checks
        decide, and a failed check counts only after the grace period."""
        if row.last_status != "RUNNING" or row.desired_status != "RUNNING":
            return False, False
        try:
            definition = self._definition(row.task_definition_arn)
        except ApiError:
            return True, False
        checked = {
            c["name"]
            for c in definition["containerDefinitions"]
            if c.get("healthCheck") and c.get("essential", True)
        }
        statuses = {
            c["name"]: c.get("healthStatus", "UNKNOWN") for c in row.containers if c["name"] in checked
        }
        if not statuses:
            return True, False
        if "UNHEALTHY" in statuses.values():
            started = row.started_at or row.created_at
            if self.ctx.now >= started + grace:
                return False, True
            self._due(started + grace)
            return False, False
        return all(status == "HEALTHY" for status in statuses.values()), False

    def _due(self, when: float) -> None:
        self.next_due = when if self.next_due is None else min(self.next_due, when)

    # -- deciding and acting -----------------------------------------------------------------

    def run(self, primary: Row[Any]) -> float | None:
        ctx, service = self.ctx, self.service
        body = service.body
        configuration = body["deploymentConfiguration"]
        primary = self._circuit_breaker(primary, configuration)
        daemon = service.scheduling_strategy == "DAEMON"
        eligible: list[int] = []
        busy_draining: set[int] = set()
        if daemon and service.status == "ACTIVE":
            eligible, busy_draining = self._daemon_instances(primary)
        rows = self._abandon_lost(self._task_rows())
        launches_allowed = primary.rollout_state != "FAILED" and self._launch_allowed(rows)
        states = self._task_states(rows)
        desired = len(eligible) if daemon else service.desired_count
        if service.status != "ACTIVE":
            desired = 0
        plan_input = rollout.ServiceState(desired, configuration, primary.id, launches_allowed)
        if daemon:
            plan = rollout.plan_daemon(plan_input, states, eligible, busy_draining)
        else:
            plan = rollout.plan_replica(plan_input, states)
        by_id = {row.id: row for row in rows}
        self._stop(plan, by_id, primary)
        started = self._start(plan, primary)
        stopped_ids = {task.id for task, _ in plan.stop}
        remaining = [t for t in states if t.id not in stopped_ids]
        self._bookkeeping(primary, desired, remaining, started, plan)
        if daemon and desired != service.desired_count:
            self.values["desired_count"] = desired
        self.values["events"] = self.events
        self.values["due_at"] = self.next_due
        ctx.conn.execute(update(services).where(services.c.id == service.id).values(**self.values))
        return self.next_due

    def _launch_allowed(self, rows: list[Row[Any]]) -> bool:
        """Whether new tasks may start now: a service whose tasks keep failing is spaced out,
        more each time, until one of its tasks has stayed up for STABLE_SECONDS."""
        service, now = self.service, self.ctx.now
        if service.failure_streak and self._one_stayed_up(rows):
            self.values.update(failure_streak=0, launch_after=None)
            return True
        if service.failure_streak < THROTTLE_AFTER_FAILURES:
            return True
        if service.launch_after is not None and now >= service.launch_after:
            self.values["launch_after"] = None
            return True
        if service.launch_after is None:
            delay = min(MAX_THROTTLE_SECONDS, 5.0 * 2 ** (service.failure_streak - THROTTLE_AFTER_FAILURES))
            self.values["launch_after"] = now + delay
            self.events = events.add(self.ctx, self.events, events.throttled(service.name))
            self._due(now + delay)
        else:
            self._due(service.launch_after)
        return False

    def _one_stayed_up(self, rows: list[Row[Any]]) -> bool:
        started = [row.started_at for row in rows if row.last_status == "RUNNING" and row.started_at]
        if any(self.ctx.now - at >= STABLE_SECONDS for at in started):
            return True
        if started:
            self._due(min(started) + STABLE_SECONDS)
        return False

    def _daemon_instances(self, primary: Row[Any]) -> tuple[list[int], set[int]]:
        """The instances a daemon belongs on, and the DRAINING ones still busy with other tasks."""
        ctx = self.ctx
        definition = self._definition(primary.task_definition_arn)
        constraints = (
            *definition.get("placementConstraints", []),
            *(self.service.body.get("placementConstraints") or []),
        )
        member_of = [f for f in constraint_filters(tuple(constraints)) if isinstance(f, MemberOf)]
        snapshot = placement_cache.snapshot(ctx, self.cluster)
        probe = task_launch.placement_request(
            definition,
            {},
            launch_type="EC2",
            group=f"service:{self.service.name}",
            count=1,
            constraints=None,
            strategies=None,
        )
        eligible = [
            instance.id
            for instance in snapshot
            if instance.status == "ACTIVE"
            and instance.agent_connected
            and all(f.reject(instance, probe) is None for f in member_of)
        ]
        draining = [instance.id for instance in snapshot if instance.status == "DRAINING"]
        busy: set[int] = set()
        if draining:
            busy = set(
                ctx.conn.execute(
                    select(tasks.c.container_instance_id).where(
                        tasks.c.container_instance_id.in_(draining),
                        tasks.c.last_status != "STOPPED",
                        (tasks.c.service_name.is_(None)) | (tasks.c.service_name != self.service.name),
                    )
                ).scalars()
            )
        return eligible, busy

    def _stop(self, plan: rollout.Plan, rows: dict[int, Row[Any]], primary: Row[Any]) -> None:
        if not plan.stop:
            return
        ctx, service = self.ctx, self.service
        scaling = f"Scaling activity initiated by (deployment {primary.deployment_id})"
        stopped = []
        for task, why in plan.stop:
            row = rows[task.id]
            if why == rollout.HEALTH:
                self.events = events.add(ctx, self.events, events.unhealthy(service.name, row.task_id))
                if row.deployment_id is not None:
                    ctx.conn.execute(
                        update(service_deployments)
                        .where(service_deployments.c.id == row.deployment_id)
                        .values(failed_tasks=service_deployments.c.failed_tasks + 1)
                    )
            request_stop(
                ctx, row, reason=_STOP_REASONS.get(why, scaling), stop_code="ServiceSchedulerInitiated"
            )
            stopped.append(row.task_id)
        self.events = events.add(ctx, self.events, events.tasks_stopped(service.name, stopped))

    def _start(self, plan: rollout.Plan, primary: Row[Any]) -> int:
        count = plan.start if not plan.start_on else len(plan.start_on)
        if not count:
            self.values["starved"] = False
            return 0
        ctx, service = self.ctx, self.service
        try:
            definition_row = task_definitions.resolve(ctx, primary.task_definition_arn)
        except ApiError:
            return 0
        definition = task_definitions.render(definition_row)
        body = service.body
        launch_type = primary.body.get("launchType") or "EC2"
        group = f"service:{service.name}"
        started_ids: list[str] = []
        failures: list[dict[str, str]] = []
        targets: list[list[int] | None] = [[i] for i in plan.start_on] if plan.start_on else [None]
        budget = MAX_LAUNCH_PER_PASS
        for instance_ids in targets:
            batch = 1 if instance_ids else min(plan.start, budget)
            if batch <= 0:
                self._due(ctx.now)  # more to start: the next pass, at once
                break
            request = task_launch.placement_request(
                definition,
                {},
                launch_type=launch_type,
                group=group,
                count=batch,
                constraints=body.get("placementConstraints"),
                strategies=None
                if instance_ids
                else (body.get("placementStrategy") or list(DEFAULT_STRATEGY)),
            )
            order = task_launch.Launch(
                cluster=self.cluster,
                definition=definition,
                request=request,
                launch_type=launch_type,
                overrides={},
                group=group,
                started_by=primary.deployment_id,
                tags=task_launch.task_tags(
                    definition_row,
                    self.cluster,
                    None,
                    propagate_tags=body.get("propagateTags"),
                    managed_tags=body.get("enableECSManagedTags"),
                    service_tags=service.tags,
                    service_name=service.name,
                ),
                service_name=service.name,
                deployment_id=primary.id,
                instance_ids=instance_ids,
                attributes={
                    "enableExecuteCommand": bool(body.get("enableExecuteCommand")),
                    "platformVersion": body.get("platformVersion"),
                    "networkConfiguration": body.get("networkConfiguration"),
                },
            )
            launched = task_launch.launch(ctx, order)
            started_ids += [row.task_id for row in launched.rows]
            budget -= len(launched.rows)
            if len(launched.rows) < batch:
                failures = launched.failures
        if started_ids:
            self.events = events.add(ctx, self.events, events.tasks_started(service.name, started_ids))
        if failures or len(started_ids) < count:
            self.values["starved"] = True
            self.events = events.add(ctx, self.events, events.unable_to_place(service.name, failures))
        else:
            self.values["starved"] = False
        return len(started_ids)

    # -- deployments -------------------------------------------------------------------------

    def _circuit_breaker(self, primary: Row[Any], configuration: dict[str, Any]) -> Row[Any]:
        """Fail (and maybe roll back) the PRIMARY deployment once too many of its tasks failed."""
        enabled, rollback = config.circuit_breaker(configuration)
        if not enabled or primary.rollout_state != "IN_PROGRESS":
            return primary
        threshold = config.circuit_breaker_threshold(self.service.desired_count)
        if primary.failed_tasks < threshold:
            return primary
        ctx, service = self.ctx, self.service
        reason = "ECS deployment circuit breaker: tasks failed to start."
        target = deployments.last_completed(ctx, service.id, primary.id) if rollback else None
        deployments.set_values(
            ctx,
            primary.id,
            rollout_state="FAILED",
            rollout_state_reason=reason,
            lifecycle_status="ROLLBACK_IN_PROGRESS" if target is not None else "STOPPED",
            status_reason=reason,
            finished_at=ctx.now,
        )
        self.events = events.add(
            ctx, self.events, events.deployment_failed(service.name, primary.deployment_id)
        )
        if target is None:
            return _reread(ctx, primary.id)
        self.events = events.add(ctx, self.events, events.rolling_back(service.name, target.deployment_id))
        new_id = deployments.start(
            ctx,
            service,
            task_definition_arn=target.task_definition_arn,
            desired_count=service.desired_count,
            body={**target.body, "deploymentConfiguration": configuration},
            rollback_of=target,
        )
        self.values.update(
            task_definition_arn=target.task_definition_arn, failure_streak=0, launch_after=None
        )
        self.deployments = deployments.current(ctx, service.id)
        return _reread(ctx, new_id)

    def _bookkeeping(
        self,
        primary: Row[Any],
        desired: int,
        remaining: list[rollout.TaskState],
        started: int,
        plan: rollout.Plan,
    ) -> None:
        ctx, service = self.ctx, self.service
        live_by_deployment: dict[int, int] = {}
        for task in remaining:
            if task.deployment_id is not None and task.desired_status == "RUNNING":
                live_by_deployment[task.deployment_id] = live_by_deployment.get(task.deployment_id, 0) + 1
        any_live = {task.deployment_id for task in remaining}
        for deployment in self.deployments:
            if deployment.id == primary.id:
                if deployment.desired_count != desired:
                    deployments.set_values(ctx, deployment.id, desired_count=desired)
                continue
            if deployment.id not in any_live:
                deployments.set_values(ctx, deployment.id, status="INACTIVE", desired_count=0)
            elif deployment.desired_count != live_by_deployment.get(deployment.id, 0):
                deployments.set_values(
                    ctx, deployment.id, desired_count=live_by_deployment.get(deployment.id, 0)
                )
        if service.status == "DRAINING" and not remaining and not started:
            self.values["status"] = "INACTIVE"
            for deployment in self.deployments:
                deployments.set_values(ctx, deployment.id, status="INACTIVE")
            self.next_due = None
            return
        primary_tasks = [
            t for t in remaining if t.deployment_id == primary.id and t.desired_status == "RUNNING"
        ]
        others = [t for t in remaining if t.deployment_id != primary.id]
        steady = (
            plan.idle
            and not others
            and len(primary_tasks) == desired
            and all(t.healthy for t in primary_tasks)
            and not self.values.get("starved")
        )
        if not steady:
            if service.steady:
                self.values["steady"] = False
            return
        if primary.rollout_state == "IN_PROGRESS":
            deployments.set_values(
                ctx,
                primary.id,
                rollout_state="COMPLETED",
                rollout_state_reason="ECS deployment completed.",
                lifecycle_status="SUCCESSFUL",
                finished_at=ctx.now,
            )
            if primary.body.get("rollback"):
                ctx.conn.execute(
                    update(service_deployments)
                    .where(
                        service_deployments.c.service_id == service.id,
                        service_deployments.c.lifecycle_status == "ROLLBACK_IN_PROGRESS",
                    )
                    .values(lifecycle_status="ROLLBACK_SUCCESSFUL", updated_at=ctx.now)
                )
            self.events = events.add(
                ctx, self.events, events.deployment_completed(service.name, primary.deployment_id)
            )
        if not service.steady:
            self.values["steady"] = True
            self.events = events.add(ctx, self.events, events.steady_state(service.name))


def _reread(ctx: RequestContext, deployment_id: int) -> Row[Any]:
    row = ctx.conn.execute(
        select(service_deployments).where(service_deployments.c.id == deployment_id)
    ).first()
    assert row is not None
    return row
