"""What agents report: SubmitTaskStateChange, SubmitContainerStateChange,
SubmitAttachmentStateChanges.

Reports are applied level-wise and only forward (see ``task_lifecycle``): an agent may resend
a report after a reconnect, or two reports may cross, and the task still ends where it should.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam, update

from dockyard.context import RequestContext
from dockyard.ecs import clusters
from dockyard.ecs.services import wake
from dockyard.ecs.task_lifecycle import later, later_container, mark_stopped
from dockyard.ecs.tasks import find
from dockyard.errors import InvalidParameterException, UnsupportedFeatureException
from dockyard.store import direct
from dockyard.store.schema import tasks

_ACK = {"acknowledgment": "ACK"}
# Built once: the report that moves a task on is the hottest write of a busy fleet (the
# parameters' keys pick the columns set).
_UPDATE_TASK = update(tasks).where(tasks.c.id == bindparam("task_row"))
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
    _refuse_attachments(attachments, "attachments")
    if managed_agents:
        raise UnsupportedFeatureException(
            "managedAgents is not supported by Dockyard: it runs no managed agents (no ExecuteCommand)."
        )
    check_status(status)
    merged = _merge_containers(row.containers, containers or [])
    if row.last_status == "STOPPED":
        return _ACK
    if status == "STOPPED":
        stop_code, stopped_reason = _stop_facts(row, merged, reason)
        if row.started_at is None and stop_code != "TaskFailedToStart":
            # It ran and ended between two reports: it started, even if RUNNING was never seen.
            ctx.conn.execute(
                update(tasks)
                .where(tasks.c.id == row.id)
                .values(started_at=pull_stopped_at or ctx.now, connectivity_at=pull_stopped_at or ctx.now)
            )
        mark_stopped(
            ctx,
            row,
            stop_code=stop_code,
            reason=stopped_reason,
            containers=[{**c, "lastStatus": "STOPPED"} for c in merged],
            execution_stopped_at=execution_stopped_at,
            pull_started_at=pull_started_at,
            pull_stopped_at=pull_stopped_at,
        )
        return _ACK
    values: dict[str, Any] = {"containers": merged, "version": row.version + 1}
    if status is not None:
        values["last_status"] = later(row.last_status, status)
        if status == "RUNNING" and row.started_at is None:
            values["started_at"] = ctx.now
            values["connectivity_at"] = ctx.now
            wake.task_changed(ctx, row)  # a service's task started: its deployment moves on
    if pull_started_at is not None and row.pull_started_at is None:
        values["pull_started_at"] = pull_started_at
    if pull_stopped_at is not None and row.pull_stopped_at is None:
        values["pull_stopped_at"] = pull_stopped_at
    direct.write(ctx.conn, _UPDATE_TASK, {"task_row": row.id, **values})
    return _ACK


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
