"""Forgets what ECS forgets: stopped tasks (and their output) after their retention.

Every step is an idempotent delete, so several replicas may run it at once without a leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time

from sqlalchemy import Engine, delete, select

from dockyard.store.db import transaction
from dockyard.store.schema import container_logs, tasks

log = logging.getLogger(__name__)

# ECS keeps stopped tasks describable for at least an hour.
STOPPED_TASK_RETENTION_SECONDS = float(os.environ.get("DOCKYARD_STOPPED_TASK_RETENTION", 3600))
INTERVAL_SECONDS = float(os.environ.get("DOCKYARD_JANITOR_INTERVAL", 60))


def sweep(engine: Engine, now: float | None = None) -> int:
    """Delete tasks stopped longer than the retention, with their output; returns how many."""
    cutoff = (time.time() if now is None else now) - STOPPED_TASK_RETENTION_SECONDS
    with transaction(engine) as connection:
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
    return len(expired)


async def run(engine: Engine) -> None:
    """Sweep every INTERVAL_SECONDS until cancelled."""
    while True:
        await asyncio.sleep(INTERVAL_SECONDS)
        with contextlib.suppress(Exception):
            removed = await asyncio.to_thread(sweep, engine)
            if removed:
                log.info("janitor removed %d stopped tasks", removed)
