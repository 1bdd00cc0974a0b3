"""Container output: appended from agents' log frames, read back by ``dockyard logs``.

The newest ``KEEP_LINES`` lines of each container are kept; older ones are trimmed as new ones
arrive, so a chatty container cannot fill the store.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select

from dockyard.context import RequestContext
from dockyard.errors import InvalidParameterException
from dockyard.store.schema import container_logs, tasks

KEEP_LINES = 10_000
MAX_LINE = 16_384


def append(ctx: RequestContext, frame: dict[str, Any]) -> None:
    """Store a ``logs`` frame's lines for a task of the caller's account."""
    task_arn = str(frame.get("taskArn", ""))
    task = ctx.conn.execute(
        select(tasks.c.task_id).where(
            tasks.c.account_id == ctx.account_id, tasks.c.region == ctx.region, tasks.c.arn == task_arn
        )
    ).first()
    lines = frame.get("lines") or []
    if task is None or not lines:
        return
    container = str(frame.get("containerName", ""))
    ctx.conn.execute(
        insert(container_logs),
        [
            {
                "account_id": ctx.account_id,
                "region": ctx.region,
                "task_id": task.task_id,
                "container_name": container,
                "at": float(at),
                "line": str(text)[:MAX_LINE],
            }
            for at, text in lines
        ],
    )
    _trim(ctx, task.task_id, container)


def _trim(ctx: RequestContext, task_id: str, container: str) -> None:
    """Drop all but the newest KEEP_LINES lines of the container (one index range scan)."""
    scope = (
        container_logs.c.account_id == ctx.account_id,
        container_logs.c.region == ctx.region,
        container_logs.c.task_id == task_id,
        container_logs.c.container_name == container,
    )
    oldest_kept = ctx.conn.execute(
        select(container_logs.c.id)
        .where(*scope)
        .order_by(container_logs.c.id.desc())
        .offset(KEEP_LINES - 1)
        .limit(1)
    ).scalar()
    if oldest_kept is not None:
        ctx.conn.execute(delete(container_logs).where(*scope, container_logs.c.id < oldest_kept))


def read(
    ctx: RequestContext, task_id: str, container: str | None, limit: int = KEEP_LINES
) -> list[tuple[float, str, str]]:
    """(time, container, line) of a task's output, oldest first; InvalidParameterException for
    a task the caller does not have in this region, or a container the task does not have."""
    task = ctx.conn.execute(
        select(tasks.c.containers).where(
            tasks.c.account_id == ctx.account_id, tasks.c.region == ctx.region, tasks.c.task_id == task_id
        )
    ).first()
    if task is None:
        raise InvalidParameterException(f"The task {task_id} was not found in {ctx.region}.")
    names = [c.get("name") for c in task.containers or []]
    if container and container not in names:
        raise InvalidParameterException(
            f"The task {task_id} has no container named {container!r}; it has {', '.join(map(str, names))}."
        )
    query = select(container_logs.c.at, container_logs.c.container_name, container_logs.c.line).where(
        container_logs.c.account_id == ctx.account_id,
        container_logs.c.region == ctx.region,
        container_logs.c.task_id == task_id,
    )
    if container:
        query = query.where(container_logs.c.container_name == container)
    rows = ctx.conn.execute(query.order_by(container_logs.c.id.desc()).limit(limit)).all()
    return [(row.at, row.container_name, row.line) for row in reversed(rows)]
