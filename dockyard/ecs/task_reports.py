"""What agents report: SubmitTaskStateChange, SubmitContainerStateChange,
SubmitAttachmentStateChanges.

Reports are applied level-wise and only forward (see ``task_lifecycle``): an agent may resend
a report after a reconnect, or two reports may cross, and the task still ends where it should.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, Select, bindparam, select, update

from dockyard.context import RequestContext
from dockyard.ecs import clusters, described
from dockyard.ecs.services import wake
from dockyard.ecs.task_lifecycle import Stop, later, later_container, mark_stopped_many
from dockyard.ecs.tasks import find
from dockyard.errors import ApiError, InvalidParameterException, UnsupportedFeatureException
from dockyard.store import direct
from dockyard.store.expressions import in_params
from dockyard.store.schema import tasks

_ACK = {"acknowledgment": "ACK"}
TURN_REPORTS = 256  # reports applied together at most (the agent channel's turns)
_TASK_STATUSES = {"PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"}


def _task(ctx: RequestContext, cluster: str | None, task: str | None) -> Row[Any]:
    cluster_row = clusters.lookup(ctx, cluster)
    if not task:
        raise InvalidParameterException("task is required.")
    row = find(ctx, cluster_row, task, lock=True)
    if row is None:
        raise InvalidParameterException(f"The referenced task {task} was not found.")
    return row


def _merge_containers(current: list[dict[str, Any]], changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_name = {change.get("containerName"): change for change in changes}
    merged = []
    for container in current:
        change = by_name.get(container["name"])
        if change is None:
            merged.append(container)
            continue
        updated = dict(container)
        if change.get("status"):
            updated["lastStatus"] = later_container(container.get("lastStatus", "PENDING"), change["status"])
        for key in ("runtimeId", "exitCode", "reason", "imageDigest", "networkBindings"):
            if change.get(key) is not None:
                updated[key] = change[key]
        merged.append(updated)
    return merged


def _stop_facts(task: Row[Any], containers: list[dict[str, Any]], reason: str | None) -> tuple[str, str]:
    """The stopCode and stoppedReason of a task its agent found stopped."""
    if task.desired_status == "STOPPED" and task.stop_code:
        return task.stop_code, task.stopped_reason or reason or ""
    ran = task.started_at is not None or any(c.get("exitCode") is not None for c in containers)
    if not ran:
        failed = next((c.get("reason") for c in containers if c.get("reason")), None)
        return "TaskFailedToStart", reason or failed or "Task failed to start"
    return "EssentialContainerExited", reason or "Essential container in task exited"


def check_status(status: str | None) -> None:
    """InvalidParameterException unless ``status`` is a task status (or not given)."""
    if status is not None and status not in _TASK_STATUSES:
        raise InvalidParameterException(f"Unknown task status: {status}")


def submit_task_state_change(
    ctx: RequestContext,
    *,
    cluster: str | None = None,
    task: str | None = None,
    status: str | None = None,
    reason: str | None = None,
    containers: list[dict[str, Any]] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    managed_agents: list[dict[str, Any]] | None = None,
    pull_started_at: float | None = None,
    pull_stopped_at: float | None = None,
    execution_stopped_at: float | None = None,
) -> dict[str, Any]:
    row = _task(ctx, cluster, task)
    change = _change(
        ctx,
        row,
        status=status,
        reason=reason,
        containers=containers,
        attachments=attachments,
        managed_agents=managed_agents,
        pull_started_at=pull_started_at,
        pull_stopped_at=pull_stopped_at,
        execution_stopped_at=execution_stopped_at,
    )
    _apply(ctx, [change])
    return _ACK


def submit_task_state_changes(ctx: RequestContext, reports: list[dict[str, Any]]) -> list[ApiError | None]:
    """SubmitTaskStateChange for each of ``reports`` (the action's keywords), in order, as
    many calls would apply them, for the work of one: the tasks read in one statement per
    cluster, their changes written together (``task_lifecycle.mark_stopped_many``). Returns
    the error each report was refused with (None: applied); a refusal is raised before
    anything is written, so the others still count."""
    refused: list[ApiError | None] = [None] * len(reports)
    rows = _tasks_of(ctx, reports, refused)
    changes: list[Change] = []
    again: list[int] = []
    seen: set[int] = set()
    moved: dict[int, int] = {}  # a task's row id -> the place of its update in changes
    for index, row in rows.items():
        if row.id in seen:
            # Reported again in the batch (an agent's PENDING then RUNNING, one frame): a move
            # after a move folds into one update; anything else is read again once the first
            # is written.
            if row.id in moved and _folded(ctx, changes, moved[row.id], reports[index], refused, index):
                continue
            again.append(index)
            continue
        try:
            change = _change(ctx, row, **_without(reports[index], "cluster", "task"))
        except ApiError as error:
            refused[index] = error
            continue
        seen.add(row.id)
        if isinstance(change, tuple):
            moved[row.id] = len(changes)
        changes.append(change)
    _apply(ctx, changes)
    for index in again:
        try:
            submit_task_state_change(ctx, **reports[index])
        except ApiError as error:
            refused[index] = error
    return refused


def _folded(
    ctx: RequestContext,
    changes: list[Change],
    place: int,
    report: dict[str, Any],
    refused: list[ApiError | None],
    index: int,
) -> bool:
    """Fold ``report`` into the update at ``changes[place]`` when it only moves the task on
    too; False (nothing changed) when it must be applied on its own."""
    first = changes[place]
    assert isinstance(first, tuple)
    row, values = first
    as_written = SimpleNamespace(**{**row._mapping, **values})  # the task after the first update
    try:
        later = _change(ctx, as_written, **_without(report, "cluster", "task"))  # type: ignore[arg-type]
    except ApiError as error:
        refused[index] = error  # refused as it would be after the first: nothing to write
        return True
    if not isinstance(later, tuple):
        return False
    changes[place] = (row, later[1])  # the row as read: "started" is judged against it
    return True


def _without(report: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: value for name, value in report.items() if name not in names}


# What a report reads of its task: all but the documents it never looks at (a batch item's
# overrides carry its event: parsing them was a tenth of a frame's work).
_REPORTED = [column for column in tasks.c if column.name not in ("overrides", "attributes")]


@functools.lru_cache(maxsize=TURN_REPORTS)
def _locked_tasks(count: int) -> Select[Any]:
    # Built once per number of tasks (a turn's reports name at most TURN_REPORTS): a turn of
    # report frames reads (and locks) its tasks together.
    # No cluster in it (the caller checks it): with one, SQLite's planner took the cluster's
    # index for a long IN list and walked every task of the cluster.
    return (
        select(*_REPORTED)
        .where(
            tasks.c.account_id == bindparam("account"),
            tasks.c.region == bindparam("region"),
            in_params(tasks.c.task_id, "id", count),
        )
        .order_by(tasks.c.id)
        .with_for_update()
    )


def _tasks_of(
    ctx: RequestContext, reports: list[dict[str, Any]], refused: list[ApiError | None]
) -> dict[int, Row[Any]]:
    """Each report's task (by index, in order), locked; a report whose cluster or task is
    not found gets the error ``_task`` would raise."""
    by_cluster: dict[str | None, list[int]] = {}
    for index, report in enumerate(reports):
        by_cluster.setdefault(report.get("cluster"), []).append(index)
    found: dict[int, Row[Any]] = {}
    for cluster, indexes in by_cluster.items():
        try:
            cluster_row = clusters.lookup(ctx, cluster)
        except ApiError as error:
            for index in indexes:
                refused[index] = error
            continue
        named = [str(reports[index].get("task")) for index in indexes if reports[index].get("task")]
        scope = {"account": ctx.account_id, "region": ctx.region}
        rows = described.find_many(ctx, named, "task", _locked_tasks, scope, lambda row: str(row.task_id))
        for index in indexes:
            task = reports[index].get("task")
            if not task:
                refused[index] = InvalidParameterException("task is required.")
            elif task not in rows or rows[task].cluster_name != cluster_row.name:
                refused[index] = InvalidParameterException(f"The referenced task {task} was not found.")
            else:
                found[index] = rows[task]
    return dict(sorted(found.items()))


# A report's change: the task's stop, or its row and the columns it moves to.
Change = Stop | tuple[Row[Any], dict[str, Any]] | None

_UPDATED = (
    "containers",
    "version",
    "last_status",
    "started_at",
    "connectivity_at",
    "pull_started_at",
    "pull_stopped_at",
)
# Built once, every column given (an executemany needs one shape).
_UPDATE = (
    update(tasks)
    .where(tasks.c.id == bindparam("row_id"))
    .values({name: bindparam(f"new_{name}", type_=tasks.c[name].type) for name in _UPDATED})
)


def _change(
    ctx: RequestContext,
    row: Row[Any],
    *,
    status: str | None = None,
    reason: str | None = None,
    containers: list[dict[str, Any]] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    managed_agents: list[dict[str, Any]] | None = None,
    pull_started_at: float | None = None,
    pull_stopped_at: float | None = None,
    execution_stopped_at: float | None = None,
) -> Change:
    """What a report does to its task (read locked), or the error it is refused with."""
    _refuse_attachments(attachments, "attachments")
    if managed_agents:
        raise UnsupportedFeatureException(
            "managedAgents is not supported by Dockyard: it runs no managed agents (no ExecuteCommand)."
        )
    check_status(status)
    merged = _merge_containers(row.containers, containers or [])
    if row.last_status == "STOPPED":
        return None
    if status == "STOPPED":
        stop_code, stopped_reason = _stop_facts(row, merged, reason)
        # It ran and ended between two reports: it started, even if RUNNING was never seen.
        ran_unseen = row.started_at is None and stop_code != "TaskFailedToStart"
        return Stop(
            row,
            stop_code,
            stopped_reason,
            [{**c, "lastStatus": "STOPPED"} for c in merged],
            started_at=(pull_stopped_at or ctx.now) if ran_unseen else None,
            execution_stopped_at=execution_stopped_at,
            pull_started_at=pull_started_at,
            pull_stopped_at=pull_stopped_at,
        )
    started = status == "RUNNING" and row.started_at is None
    return row, {
        "containers": merged,
        "version": row.version + 1,
        "last_status": row.last_status if status is None else later(row.last_status, status),
        "started_at": ctx.now if started else row.started_at,
        "connectivity_at": ctx.now if started else row.connectivity_at,
        "pull_started_at": row.pull_started_at if row.pull_started_at is not None else pull_started_at,
        "pull_stopped_at": row.pull_stopped_at if row.pull_stopped_at is not None else pull_stopped_at,
    }


def _apply(ctx: RequestContext, changes: list[Change]) -> None:
    """Write the changes: the moved tasks in one statement, the stopped ones together."""
    updates = [change for change in changes if isinstance(change, tuple)]
    if updates:
        direct.write(
            ctx.conn,
            _UPDATE,
            [
                {"row_id": row.id, **{f"new_{name}": values[name] for name in _UPDATED}}
                for row, values in updates
            ],
        )
    for row, values in updates:
        if row.started_at is None and values["started_at"] is not None:
            wake.task_changed(ctx, row)  # a service's task started: its deployment moves on
    mark_stopped_many(ctx, [change for change in changes if isinstance(change, Stop)])


def submit_container_state_change(
    ctx: RequestContext,
    *,
    cluster: str | None = None,
    task: str | None = None,
    container_name: str | None = None,
    runtime_id: str | None = None,
    status: str | None = None,
    exit_code: int | None = None,
    reason: str | None = None,
    network_bindings: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    row = _task(ctx, cluster, task)
    if container_name not in {c["name"] for c in row.containers}:
        raise InvalidParameterException(f"The task has no container named {container_name}.")
    change = {
        "containerName": container_name,
        "runtimeId": runtime_id,
        "status": status,
        "exitCode": exit_code,
        "reason": reason,
        "networkBindings": network_bindings,
    }
    merged = _merge_containers(row.containers, [change])
    ctx.conn.execute(
        update(tasks).where(tasks.c.id == row.id).values(containers=merged, version=row.version + 1)
    )
    return _ACK


def submit_attachment_state_changes(
    ctx: RequestContext, *, attachments: list[dict[str, Any]], cluster: str | None = None
) -> dict[str, Any]:
    clusters.lookup(ctx, cluster)
    _refuse_attachments(attachments, "attachments")
    return _ACK


def _refuse_attachments(given: list[dict[str, Any]] | None, member: str) -> None:
    if given:  # said, not dropped: a Dockyard task never has an attachment to report on
        raise UnsupportedFeatureException(
            f"{member} is not supported by Dockyard: its tasks have no elastic network interfaces "
            "or other attachments."
        )


def record_health(ctx: RequestContext, task: Row[Any], health: dict[str, str]) -> None:
    """Container health from the agent channel; the task is as healthy as its essential parts."""
    containers = [
        {**c, "healthStatus": health.get(c["name"], c.get("healthStatus", "UNKNOWN"))}
        for c in task.containers
    ]
    # Containers without a health check stay UNKNOWN and do not decide the task's health.
    statuses = {c["healthStatus"] for c in containers}
    overall = "UNHEALTHY" if "UNHEALTHY" in statuses else "HEALTHY" if "HEALTHY" in statuses else "UNKNOWN"
    if containers != task.containers:
        wake.task_changed(ctx, task)  # its service counts it healthy or replaces it
    ctx.conn.execute(
        update(tasks)
        .where(tasks.c.id == task.id)
        .values(containers=containers, health_status=overall, version=task.version + 1)
    )
