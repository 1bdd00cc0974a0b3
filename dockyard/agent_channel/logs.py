"""Container output: appended from agents' log frames, read back by ``dockyard logs``.

An agent's log frame is taken only for a task placed on its own instance and for one of that
task's containers (by the names its definition gives them); the newest ``KEEP_LINES`` lines of
each container are kept, older ones trimmed as new ones arrive, so what a task keeps is
bounded by its number of containers, and no agent can fill the store under invented names.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select

from dockyard.context import RequestContext
from dockyard.errors import InvalidParameterException
from dockyard.store.schema import container_logs, tasks

KEEP_LINES = 10_000
MAX_LINE = 16_384
MAX_LINES_PER_FRAME = 5_000


class MalformedLogs(ValueError):
    """A logs frame not of the shape agents send."""


def _lines(frame: dict[str, Any]) -> list[tuple[float, str]]:
    lines = frame.get("lines") or []
    if not isinstance(lines, list) or len(lines) > MAX_LINES_PER_FRAME:
        raise MalformedLogs(f"lines must be a list of at most {MAX_LINES_PER_FRAME} [time, text] pairs")
    checked = []
    for entry in lines:
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or isinstance(entry[0], bool)
            or not isinstance(entry[0], (int, float))
            or not isinstance(entry[1], str)
        ):
            raise MalformedLogs("each line must be a [time, text] pair")
        checked.append((float(entry[0]), entry[1]))
    return checked


def append(ctx: RequestContext, frame: dict[str, Any], instance_id: int) -> None:
    """Store a ``logs`` frame's lines for a container of a task on the agent's instance."""
    lines = _lines(frame)
    task_arn = str(frame.get("taskArn", ""))
    task = ctx.conn.execute(
        select(tasks.c.task_id, tasks.c.containers).where(
            tasks.c.account_id == ctx.account_id,
            tasks.c.region == ctx.region,
            tasks.c.task_id == task_arn.rsplit("/", 1)[-1],  # the unique index; the ARN then checks it
            tasks.c.arn == task_arn,
            tasks.c.container_instance_id == instance_id,
        )
    ).first()
    container = str(frame.get("containerName", ""))
    if task is None or not lines or container not in _container_names(task.containers):
        return
    ctx.conn.execute(
        insert(container_logs),
        [
            {
                "account_id": ctx.account_id,
                "region": ctx.region,
                "task_id": task.task_id,
                "container_name": container,
                "at": at,
                "line": text[:MAX_LINE].replace("\x00", "\ufffd"),  # PostgreSQL stores no NUL
            }
            for at, text in lines
        ],
    )
    _trim(ctx, task.task_id, container)


def _container_names(containers: Any) -> set[str]:
    return {str(c.get("name")) for c in containers or [] if isinstance(c, dict)}


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
