"""The task state machine on the control plane side.

``lastStatus`` only moves forward through ECS's order, so a late, duplicated or replayed report
can never move a task back. Whoever changes a task here also bumps its instance's
``desired_version``, which is what tells the agent channel to push the instance's new state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, select, update

from dockyard.context import RequestContext
from dockyard.ecs import instance_books, placement_cache, task_states
from dockyard.ecs.services import wake
from dockyard.store import direct
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


_TOUCH = (  # built once, run as one executemany: building it per call cost more than running it
    update(container_instances)
    .where(container_instances.c.id == bindparam("touched"))
    .values(desired_version=container_instances.c.desired_version + 1)
)


# The task's entry changed in its instance's frames: stamped with the version just moved to.
_STAMP_VERSION = (
    select(container_instances.c.desired_version)
    .where(container_instances.c.id == tasks.c.container_instance_id)
    .scalar_subquery()
)
_STAMP = update(tasks).where(tasks.c.id == bindparam("stamped_task")).values(frame_version=_STAMP_VERSION)


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
    direct.write(ctx.conn, _TOUCH, [{"touched": instance_id} for instance_id in ids])
    wake_agents(ctx, ids)


def wake_agents(ctx: RequestContext, instance_ids: Iterable[int]) -> None:
    """Once the request commits, tell these instances' agent connections to read their
    desired state again (for instances whose desired version this request moved)."""
    ids = sorted(set(instance_ids))
    ctx.after_commit.append(lambda: ctx.server.notifier.wake(ids))


_STOP_COLUMNS = (
    "stopping_at",
    "execution_stopped_at",
    "stop_code",
    "stopped_reason",
    "version",
    "containers",
    "pull_started_at",
    "pull_stopped_at",
    "started_at",
    "connectivity_at",
)
# Called in the transaction that stops tasks, once per batch of them, with each task's row
# before and the values it stopped with (a job engine whose items are tasks reads their
# outcome: dockyard/batch/stopped_tasks.py).
STOPPED_HOOKS: list[Callable[[RequestContext, list[tuple[Row[Any], dict[str, Any]]]], None]] = []


@dataclass(frozen=True, slots=True)
class Stop:
    """A task to move to STOPPED: its row as read (locked), why, and what its agent said."""

    task: Row[Any]
    stop_code: str | None
    reason: str | None
    containers: list[dict[str, Any]] | None = None  # None: the task's own, all STOPPED
    started_at: float | None = None  # it ran, though RUNNING was never seen: since then
    execution_stopped_at: float | None = None
    pull_started_at: float | None = None
    pull_stopped_at: float | None = None


# Built once, every column given (an executemany needs one shape): a frame of an agent's
# reports stops its tasks in one statement.
_STOP = (
    update(tasks)
    .where(tasks.c.id == bindparam("row_id"))
    .values(
        last_status="STOPPED",
        desired_status="STOPPED",
        stopped_at=bindparam("now"),
        frame_version=_STAMP_VERSION,  # its instance's desired version, just moved (touch_instances)
        **{name: bindparam(f"new_{name}", type_=tasks.c[name].type) for name in _STOP_COLUMNS},
    )
)


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
    stop = Stop(
        task,
        stop_code,
        reason,
        containers,
        execution_stopped_at=timestamps.get("execution_stopped_at"),
        pull_started_at=timestamps.get("pull_started_at"),
        pull_stopped_at=timestamps.get("pull_stopped_at"),
    )
    mark_stopped_many(ctx, [stop])


def mark_stopped_many(ctx: RequestContext, stops: Iterable[Stop]) -> None:
    """Move tasks to STOPPED now (each once; those already STOPPED are left alone), as
    ``mark_stopped`` one by one would, with the work per batch, not per task: one UPDATE of
    the tasks, their instances' books released once each, the agents told once, the cluster's
    services woken once, the hooks called once."""
    stopped: list[tuple[Row[Any], dict[str, Any]]] = []
    rows: list[dict[str, Any]] = []
    seen: set[int] = set()
    for stop in stops:
        task = stop.task
        if task.last_status == "STOPPED" or task.id in seen:
            continue
        seen.add(task.id)
        values = _stopped_values(ctx, stop)
        stopped.append((task, values))
        rows.append(
            {"row_id": task.id, "now": ctx.now, **{f"new_{name}": values[name] for name in _STOP_COLUMNS}}
        )
    if not rows:
        return
    held = [task for task, _ in stopped]
    instance_books.release(ctx, held)
    touch_instances(ctx, [task.container_instance_id for task in held])
    direct.write(ctx.conn, _STOP, rows)  # stamped with the version just moved to (delta frames)
    for task, values in stopped:
        wake.task_changed(ctx, task, stopped_with=values["stop_code"])
    for cluster_name in sorted({task.cluster_name for task in held}):
        wake.cluster_changed(ctx, cluster_name, capacity_only=True)  # what they held is free
    for hook in STOPPED_HOOKS:
        hook(ctx, stopped)


def _stopped_values(ctx: RequestContext, stop: Stop) -> dict[str, Any]:
    """The columns a task stops with (the first stop code and reason win)."""
    task = stop.task
    ran_unseen = task.started_at is None and stop.started_at is not None
    return {
        "last_status": "STOPPED",
        "desired_status": "STOPPED",
        "stopped_at": ctx.now,
        "stopping_at": task.stopping_at or ctx.now,
        "execution_stopped_at": stop.execution_stopped_at or task.execution_stopped_at or ctx.now,
        "stop_code": task.stop_code or stop.stop_code,
        "stopped_reason": task.stopped_reason or stop.reason,
        "version": task.version + 1,
        "containers": stop.containers
        if stop.containers is not None
        else [{**c, "lastStatus": "STOPPED"} for c in task.containers],
        "pull_started_at": _first(task.pull_started_at, stop.pull_started_at),
        "pull_stopped_at": _first(task.pull_stopped_at, stop.pull_stopped_at),
        "started_at": stop.started_at if ran_unseen else task.started_at,
        "connectivity_at": stop.started_at if ran_unseen else task.connectivity_at,
    }


def _first(known: float | None, reported: float | None) -> float | None:
    """A pull time stays the first one recorded."""
    return known if known is not None or not reported else reported


def abandon_tasks(ctx: RequestContext, task_ids: list[int], reason: str) -> None:
    """Stop tasks whose instance is going away, without waiting for their agent."""
    rows = ctx.conn.execute(
        select(tasks).where(tasks.c.id.in_(task_ids)).order_by(tasks.c.id).with_for_update()
    ).all()
    mark_stopped_many(ctx, [Stop(row, "UserInitiated", reason) for row in rows])


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
