"""Wake-ups for the service scheduler, sent by whatever changes what a service sees: its tasks
(stopped, running, healthy or not), the cluster's instances (registered, drained, gone).

A wake-up is a row of ``service_wakeups``, inserted in the writer's transaction, so whichever
process leads the service controller sees it, and nothing acknowledged is lost in a crash.
Inserting takes no lock on the service's row, which the scheduler holds while it reconciles:
an agent's report (which holds its instance's row) and the scheduler (which locks instances
to place) can never wait on each other. Once the write is committed, this process's runner
is woken at once (``controllers/runtime.py``). The scheduler consumes the rows it saw.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, false, insert, literal, or_, select, true, update

from dockyard.context import RequestContext
from dockyard.store import direct
from dockyard.store.schema import service_wakeups, services

CONTROLLER = "services"

# Stop codes of a task that failed on its own (it was not stopped by someone).
FAILED_STOP_CODES = frozenset({"TaskFailedToStart", "EssentialContainerExited"})

_svc = services.c


def _wake_after_commit(ctx: RequestContext) -> None:
    runtime = ctx.server.controllers
    ctx.after_commit.append(lambda: runtime.wake(CONTROLLER))  # waking twice costs nothing


def task_changed(ctx: RequestContext, task: Any, *, stopped_with: str | None = None) -> None:
    """A service's task changed (started, stopped, health); ``stopped_with`` its stop code when
    it just stopped, which counts against its deployment when the task failed."""
    if task.service_name is None:
        return
    failed = stopped_with in FAILED_STOP_CODES and task.deployment_id is not None
    ctx.conn.execute(
        insert(service_wakeups).from_select(
            ["service_id", "deployment_id", "failed"],
            select(_svc.id, literal(task.deployment_id), true() if failed else false()).where(
                _svc.account_id == ctx.account_id,
                _svc.region == ctx.region,
                _svc.cluster_name == task.cluster_name,
                _svc.name == task.service_name,
                _svc.status != "INACTIVE",
            ),
        )
    )
    _wake_after_commit(ctx)


_CLUSTER_SERVICES = select(_svc.id).where(
    _svc.account_id == bindparam("account"),
    _svc.region == bindparam("region"),
    _svc.cluster_name == bindparam("cluster"),
    _svc.status != "INACTIVE",
)
# Built once: every frame of task reports that stops a task frees room in its cluster.
_WAKE_CLUSTER = {
    capacity_only: insert(service_wakeups).from_select(
        ["service_id"],
        _CLUSTER_SERVICES.where(or_(_svc.starved, _svc.scheduling_strategy == "DAEMON"))
        if capacity_only
        else _CLUSTER_SERVICES,
    )
    for capacity_only in (False, True)
}


def cluster_changed(ctx: RequestContext, cluster_name: str, *, capacity_only: bool = False) -> None:
    """The cluster's instances changed. ``capacity_only``: only room was freed, which concerns
    the services waiting for it and daemons; otherwise every service of the cluster looks."""
    scope = {"account": ctx.account_id, "region": ctx.region, "cluster": cluster_name}
    if direct.write(ctx.conn, _WAKE_CLUSTER[capacity_only], scope).rowcount:
        _wake_after_commit(ctx)


def service_changed(ctx: RequestContext, service_id: int) -> None:
    """The service itself changed (created, updated, deleted; the caller holds its row): now."""
    ctx.conn.execute(update(services).where(_svc.id == service_id).values(due_at=ctx.now))
    _wake_after_commit(ctx)
