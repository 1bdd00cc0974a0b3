"""The task state machine on the control plane side.

``lastStatus`` only moves forward through ECS's order, so a late, duplicated or replayed report
can never move a task back. Whoever changes a task here also bumps its instance's
``desired_version``, which is what tells the agent channel to push the instance's new state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Row, bindparam, select, update

from dockyard.context import RequestContext
from dockyard.ecs import instance_books, placement_cache, task_states
from dockyard.ecs.services import wake
from dockyard.store.schema import container_instances, tasks

_RANK = {status: index for index, status in enumerate(task_states.ORDER)}
CONTAINER_ORDER = ("PENDING", "RUNNING", "STOPPED")
_CONTAINER_RANK = {status: index for index, status in enumerate(CONTAINER_ORDER)}


def rank(status: str) -> int:
    return _RANK.get(status, -1)


def later(current: str, reported: str) -> str:
    """The status a task is in after ``reported`` arrives: never earlier than ``current``."""
    return reported if rank(reported) > rank(current) else current


def later_container(current: str, reported: str) -> str:
    return reported if _CONTAINER_RANK.get(reported, -1) > _CONTAINER_RANK.get(current, -1) else current


_TOUCH = (  # built once: building it per call cost more than running it (RunTask calls it)
    update(container_instances)
    .where(container_instances.c.id.in_(bindparam("ids", expanding=True)))
    .values(desired_version=container_instances.c.desired_version + 1)
)


# The task's entry changed in its instance's frames: stamped with the version just moved to.
_STAMP = (
    update(tasks)
    .where(tasks.c.id == bindparam("stamped_task"))
    .values(
        frame_version=select(container_instances.c.desired_version)
        .where(container_instances.c.id == tasks.c.container_instance_id)
        .scalar_subquery()
    )
)


def changed_in_frames(ctx: RequestContext, task: Row[Any]) -> None:
    """The task's entry in its instance's desired state changed: move the instance's desired
    version, stamp the task with it (delta frames read the tasks stamped past their base) and
    wake the instance's agent connection after the commit."""
    touch_instances(ctx, [task.container_instance_id])
    ctx.conn.execute(_STAMP, {"stamped_task": task.id})


def touch_instances(ctx: RequestContext, instance_ids: Iterable[int | None]) -> None:
    """Mark the instances' desired state as changed and wake their agent connections."""
    ids = sorted({i for i in instance_ids if i is not None})
    if not ids:
        return
    ctx.conn.execute(_TOUCH, {"ids": ids})
    wake_agents(ctx, ids)


def wake_agents(ctx: RequestContext, instance_ids: Iterable[int]) -> None:
    """Once the request commits, tell these instances' agent connections to read their
    desired state again (for instances whose desired version this request moved)."""
    ids = sorted(set(instance_ids))
    ctx.after_commit.append(lambda: ctx.server.notifier.wake(ids))


# Called in the transaction of every task that stops, with its row before and the values it
# stopped with (a job engine whose items are tasks reads their outcome: dockyard/batch/engine.py).
STOPPED_HOOKS: list[Callable[[RequestContext, Row[Any], dict[str, Any]], None]] = []


def mark_stopped(
    ctx: RequestContext,
    task: Row[Any],
    *,
    stop_code: str | None,
    reason: str | None,
    containers: list[dict[str, Any]] | None = None,
    **timestamps: float | None,
) -> None:
    """Move a task to STOPPED now: record why, release what it held, tell its agent."""
    if task.last_status == "STOPPED":
        return
    values: dict[str, Any] = {
        "last_status": "STOPPED",
        "desired_status": "STOPPED",
        "stopped_at": ctx.now,
        "stopping_at": task.stopping_at or ctx.now,
        "execution_stopped_at": timestamps.get("execution_stopped_at")
        or task.execution_stopped_at
        or ctx.now,
        "stop_code": task.stop_code or stop_code,
        "stopped_reason": task.stopped_reason or reason,
        "version": task.version + 1,
        "containers": containers
        if containers is not None
        else [{**c, "lastStatus": "STOPPED"} for c in task.containers],
    }
    for name in ("pull_started_at", "pull_stopped_at"):
        if timestamps.get(name) and getattr(task, name) is None:
            values[name] = timestamps[name]
    ctx.conn.execute(update(tasks).where(tasks.c.id == task.id).values(**values))
    instance_books.release(ctx, task)
    changed_in_frames(ctx, task)
    wake.task_changed(ctx, task, stopped_with=values["stop_code"])
    wake.cluster_changed(ctx, task.cluster_name, capacity_only=True)  # what it held is free
    for hook in STOPPED_HOOKS:
        hook(ctx, task, values)


def abandon_tasks(ctx: RequestContext, task_ids: list[int], reason: str) -> None:
    """Stop tasks whose instance is going away, without waiting for their agent."""
    rows = ctx.conn.execute(
        select(tasks).where(tasks.c.id.in_(task_ids)).order_by(tasks.c.id).with_for_update()
    ).all()
    for row in rows:
        mark_stopped(ctx, row, stop_code="UserInitiated", reason=reason)


def request_stop(ctx: RequestContext, task: Row[Any], *, reason: str, stop_code: str) -> None:
    """Set a task's desired status to STOPPED; its agent stops it and reports STOPPED."""
    if task.desired_status == "STOPPED" or task.last_status == "STOPPED":
        return
    if task.container_instance_id is None:
        mark_stopped(ctx, task, stop_code=stop_code, reason=reason)
        return
    ctx.conn.execute(
        update(tasks)
        .where(tasks.c.id == task.id)
        .values(
            desired_status="STOPPED",  # lastStatus moves only when the agent reports, as in ECS
            stopping_at=ctx.now,
            stop_code=stop_code,
            stopped_reason=reason,
            version=task.version + 1,
        )
    )
    changed_in_frames(ctx, task)
    placement_cache.changed(ctx, task.cluster_name, [task.container_instance_id])  # its group count
    wake.task_changed(ctx, task)
