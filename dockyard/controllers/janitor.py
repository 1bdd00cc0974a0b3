"""Forgets what ECS forgets: stopped tasks (and their output) after their retention, deleted
services and deleted clusters after theirs.

Every step is an idempotent delete; it still runs in one process at a time (the leader), so
replicas do not repeat each other's work.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, delete, insert, select

from dockyard.ecs.container_instances import INSTANCE_LOST_SECONDS, LAST_CONTACT
from dockyard.store.db import transaction
from dockyard.store.schema import (
    clusters,
    container_instances,
    container_logs,
    service_deployments,
    service_wakeups,
    services,
    tasks,
)

if TYPE_CHECKING:
    from dockyard.server_state import ServerState

log = logging.getLogger(__name__)

# ECS keeps stopped tasks describable for at least an hour.
STOPPED_TASK_RETENTION_SECONDS = float(os.environ.get("DOCKYARD_STOPPED_TASK_RETENTION", 3600))
# ECS keeps a deleted (INACTIVE) service describable for a while.
INACTIVE_SERVICE_RETENTION_SECONDS = float(os.environ.get("DOCKYARD_INACTIVE_SERVICE_RETENTION", 3600))
# ECS keeps a deleted (INACTIVE) cluster discoverable "for a period of time", unspecified; users
# report them still described a week later (aws/copilot-cli#5052), so a week it is.
INACTIVE_CLUSTER_RETENTION_SECONDS = float(os.environ.get("DOCKYARD_INACTIVE_CLUSTER_RETENTION", 7 * 86400))
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
        connection.execute(delete(service_wakeups).where(service_wakeups.c.service_id.in_(gone)))
        connection.execute(delete(service_deployments).where(service_deployments.c.service_id.in_(gone)))
        connection.execute(delete(services).where(services.c.id.in_(gone)))
    _purge_clusters(connection, now - INACTIVE_CLUSTER_RETENTION_SECONDS)
    return len(expired)


def _purge_clusters(connection: Connection, cutoff: float) -> None:
    """Clusters deleted before ``cutoff``, with their deregistered instances. The delete checks
    the status again, so a cluster created anew meanwhile (brought back to ACTIVE) stays."""
    purged = connection.execute(
        delete(clusters)
        .where(
            clusters.c.id.in_(
                select(clusters.c.id)
                .where(clusters.c.status == "INACTIVE", clusters.c.deleted_at < cutoff)
                .limit(1000)
                .scalar_subquery()
            ),
            clusters.c.status == "INACTIVE",
        )
        .returning(clusters.c.account_id, clusters.c.region, clusters.c.name)
    ).all()
    for row in purged:
        connection.execute(
            delete(container_instances).where(
                container_instances.c.account_id == row.account_id,
                container_instances.c.region == row.region,
                container_instances.c.cluster_name == row.name,
                container_instances.c.status == "INACTIVE",
            )
        )
    if purged:
        log.info("janitor purged %d deleted clusters", len(purged))


def wake_for_lost_instances(connection: Connection, now: float, window: float) -> int:
    """Services with tasks on instances whose agent went silent long enough ago to count as
    lost (within the last ``window`` seconds, so each loss wakes them once): they replace them."""
    newly_lost = select(container_instances.c.id).where(
        container_instances.c.status != "INACTIVE",
        now - INSTANCE_LOST_SECONDS > LAST_CONTACT,
        now - INSTANCE_LOST_SECONDS - window <= LAST_CONTACT,
    )
    affected = (
        select(services.c.id)
        .join(
            tasks,
            (tasks.c.account_id == services.c.account_id)
            & (tasks.c.region == services.c.region)
            & (tasks.c.cluster_name == services.c.cluster_name)
            & (tasks.c.service_name == services.c.name),
        )
        .where(
            tasks.c.container_instance_id.in_(newly_lost),
            tasks.c.last_status != "STOPPED",
            services.c.status != "INACTIVE",
        )
        .distinct()
    )
    return int(
        connection.execute(insert(service_wakeups).from_select(["service_id"], affected)).rowcount or 0
    )


class Janitor:
    """The janitor as a controller: one key, due every INTERVAL_SECONDS."""

    name = "janitor"
    needs_leader = True
    interval = INTERVAL_SECONDS

    def __init__(self, server: ServerState) -> None:
        self.server = server
        self.last_at = time.time()
        self.next_at = self.last_at + INTERVAL_SECONDS

    async def due(self, now: float) -> Sequence[Hashable]:
        return ["sweep"] if now >= self.next_at else []

    async def reconcile(self, key: Hashable) -> None:
        now, since = time.time(), self.last_at
        removed = await self.server.run_in_store(lambda connection: sweep_in(connection, now))
        woken = await self.server.run_in_store(
            lambda connection: wake_for_lost_instances(connection, now, now - since)
        )
        if woken:
            self.server.controllers.wake("services")
        self.last_at, self.next_at = now, now + INTERVAL_SECONDS
        if removed:
            log.info("janitor removed %d stopped tasks", removed)
