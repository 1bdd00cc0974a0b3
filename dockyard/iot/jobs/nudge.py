"""Nudges for agents: a thing that is a container instance has new job work (or work taken
away), so its agent is told over the connection it already holds, instead of IoT's MQTT topics.

The instance's ``jobs_version`` moves with its desired version, so the state frame the agent
channel sends next carries it (``"jobs"``); the agent then asks for its executions as any
device does (StartNextPendingJobExecution)."""

from __future__ import annotations

from sqlalchemy import select, update

from dockyard.context import RequestContext
from dockyard.ecs.task_lifecycle import wake_agents
from dockyard.store.schema import container_instances

_c = container_instances.c


def nudge(ctx: RequestContext, thing_names: list[str]) -> None:
    ids = list(
        ctx.conn.execute(
            select(_c.id).where(
                _c.account_id == ctx.account_id,
                _c.region == ctx.region,
                _c.instance_id.in_(thing_names),
                _c.status != "INACTIVE",
            )
        ).scalars()
    )
    if not ids:
        return
    ctx.conn.execute(
        update(container_instances)
        .where(_c.id.in_(ids))
        .values(jobs_version=_c.jobs_version + 1, desired_version=_c.desired_version + 1)
    )
    wake_agents(ctx, ids)
