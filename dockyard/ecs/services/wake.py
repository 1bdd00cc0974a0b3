"""Wake-ups for the service scheduler, sent by whatever changes what a service sees: its tasks
(stopped, running, healthy or not), the cluster's instances (registered, drained, gone).

Each marks the services due in the store (``services.due_at``), in the writer's transaction,
so that whichever process leads the service controller sees it; once the write is committed,
this process's runner is woken at once (``controllers/runtime.py``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, or_, update

from dockyard.context import RequestContext
from dockyard.store.schema import service_deployments, services

CONTROLLER = "services"

# Stop codes of a task that failed on its own (it was not stopped by someone).
FAILED_STOP_CODES = frozenset({"TaskFailedToStart", "EssentialContainerExited"})

_svc = services.c
_DUE_BY_NAME = (
    update(services)
    .where(
        _svc.account_id == bindparam("account"),
        _svc.region == bindparam("in_region"),
        _svc.cluster_name == bindparam("cluster"),
        _svc.name == bindparam("service"),
        _svc.status != "INACTIVE",
    )
    .values(due_at=bindparam("now"))
)


def _wake_after_commit(ctx: RequestContext) -> None:
    runtime = ctx.server.controllers
    ctx.after_commit.append(lambda: runtime.wake(CONTROLLER))  # waking twice costs nothing


def task_changed(ctx: RequestContext, task: Any, *, stopped_with: str | None = None) -> None:
    """A service's task changed (started, stopped, health); ``stopped_with`` its stop code when
    it just stopped, which counts against its deployment when the task failed."""
    if task.service_name is None:
        return
    scope = {
        "account": ctx.account_id,
        "in_region": ctx.region,
        "cluster": task.cluster_name,
        "service": task.service_name,
        "now": ctx.now,
    }
    if stopped_with in FAILED_STOP_CODES and task.deployment_id is not None:
        ctx.conn.execute(
            update(service_deployments)
            .where(service_deployments.c.id == task.deployment_id)
            .values(failed_tasks=service_deployments.c.failed_tasks + 1)
        )
        ctx.conn.execute(_DUE_BY_NAME.values(failure_streak=_svc.failure_streak + 1), scope)
    else:
        ctx.conn.execute(_DUE_BY_NAME, scope)
    _wake_after_commit(ctx)


def cluster_changed(ctx: RequestContext, cluster_name: str, *, capacity_only: bool = False) -> None:
    """The cluster's instances changed. ``capacity_only``: only room was freed, which concerns
    the services waiting for it and daemons; otherwise every service of the cluster looks."""
    query = update(services).where(
        _svc.account_id == ctx.account_id,
        _svc.region == ctx.region,
        _svc.cluster_name == cluster_name,
        _svc.status != "INACTIVE",
    )
    if capacity_only:
        query = query.where(or_(_svc.starved, _svc.scheduling_strategy == "DAEMON"))
    result = ctx.conn.execute(query.values(due_at=ctx.now))
    if result.rowcount:
        _wake_after_commit(ctx)


def service_changed(ctx: RequestContext, service_id: int) -> None:
    """The service itself changed (created, updated, deleted): reconcile it now."""
    ctx.conn.execute(update(services).where(_svc.id == service_id).values(due_at=ctx.now))
    _wake_after_commit(ctx)
