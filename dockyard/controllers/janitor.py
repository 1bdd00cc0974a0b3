"""Forgets what ECS forgets: stopped tasks (and their output) after their retention, deleted
services after theirs.

Every step is an idempotent delete; it still runs in one process at a time (the leader), so
replicas do not repeat each other's work.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, delete, select

from dockyard.store.db import transaction
from dockyard.store.schema import container_logs, service_deployments, services, tasks

if TYPE_CHECKING:
    from dockyard.server_state import ServerState

log = logging.getLogger(__name__)

# ECS keeps stopped tasks describable for at least an hour.
STOPPED_TASK_RETENTION_SECONDS = float(os.environ.get("DOCKYARD_STOPPED_TASK_RETENTION", 3600))
# ECS keeps a deleted (INACTIVE) service describable for a while.
INACTIVE_SERVICE_RETENTION_SECONDS = float(os.environ.get("DOCKYARD_INACTIVE_SERVICE_RETENTION", 3600))
INTERVAL_SECONDS = float(os.environ.get("DOCKYARD_JANITOR_INTERVAL", 60))


def sweep(engine: Engine, now: float | None = None) -> int:
    """Delete tasks stopped longer than the retention, with their output; returns how many."""
    with transaction(engine) as connection:
        return sweep_in(connection, time.time() if now is None else now)


def sweep_in(connection: Connection, now: float) -> int:
    """``sweep`` in a transaction of the caller's; also deletes services deleted long ago."""
    cutoff = now - STOPPED_TASK_RETENTION_SECONDS
    expired = connection.execute(
        select(tasks.c.account_id, tasks.c.region, tasks.c.task_id)
        .where(tasks.c.last_status == "STOPPED", tasks.c.stopped_at < cutoff)
        .limit(1000)
    ).all()
    for row in expired:
        connection.execute(
            delete(container_logs).where(
                container_logs.c.account_id == row.account_id,
                container_logs.c.region == row.region,
                container_logs.c.task_id == row.task_id,
            )
        )
    if expired:
        connection.execute(
            delete(tasks).where(
                tasks.c.last_status == "STOPPED",
                tasks.c.stopped_at < cutoff,
                tasks.c.task_id.in_([row.task_id for row in expired]),
            )
        )
    gone = (
        connection.execute(
            select(services.c.id)
            .where(
                services.c.status == "INACTIVE",
                services.c.deleted_at < now - INACTIVE_SERVICE_RETENTION_SECONDS,
            )
            .limit(1000)
        )
        .scalars()
        .all()
    )
    if gone:
        connection.execute(delete(service_deployments).where(service_deployments.c.service_id.in_(gone)))
        connection.execute(delete(services).where(services.c.id.in_(gone)))
    return len(expired)


class Janitor:
    """The janitor as a controller: one key, due every INTERVAL_SECONDS."""

    name = "janitor"
    needs_leader = True
    interval = INTERVAL_SECONDS

    def __init__(self, server: ServerState) -> None:
        self.server = server
        self.next_at = time.time() + INTERVAL_SECONDS

    async def due(self, now: float) -> Sequence[Hashable]:
        return ["sweep"] if now >= self.next_at else []

    async def reconcile(self, key: Hashable) -> None:
        now = time.time()
        removed = await self.server.run_in_store(lambda connection: sweep_in(connection, now))
        self.next_at = now + INTERVAL_SECONDS
        if removed:
            log.info("janitor removed %d stopped tasks", removed)
