"""Glance tasks: created by ``POST /v2/tasks``, listed and shown per account, ended by the
import worker (``glance.importer``), forgotten after ``expires_at``.

A task moves pending -> processing -> success | failure (or pending -> failure); only its end
sets ``expires_at`` (end + the task time to live). Lists are keyset-paged on (sort key, id).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from dockyard.glance import paging, records
from dockyard.glance.errors import bad_request, not_found
from dockyard.glance.schemas import TASK_PROPERTIES, TASK_STATUSES, TASK_TYPES, project, task_schema
from dockyard.glance.times import isotime
from dockyard.store.schema import glance_tasks

# Glance's [task] task_time_to_live: 48 hours after a task ends.
TIME_TO_LIVE_SECONDS = float(os.environ.get("DOCKYARD_GLANCE_TASK_TTL", 48 * 3600))
DEFAULT_LIMIT = 25  # Glance's limit_param_default
MAX_LIMIT = 1000  # Glance's api_limit_max
ENDED = ("success", "failure")
_PARTIAL = task_schema(partial=True)["properties"]


def not_found_error(task_id: str) -> Exception:
    return not_found(f"Task with the given id {task_id} was not found")


def create(
    connection: Connection,
    *,
    account_id: str,
    user_id: str,
    request_id: str,
    task_type: str,
    task_input: dict[str, Any],
    now: float,
) -> dict[str, Any]:
    row = {
        "id": str(uuid.uuid4()),
        "account_id": account_id,
        "type": task_type,
        "status": "pending",
        "input": task_input,
        "result": None,
        "message": "",
        "user_id": user_id,
        "request_id": request_id,
        "image_id": task_input.get("image_id") if isinstance(task_input.get("image_id"), str) else None,
        "created_at": now,
        "updated_at": now,
        "expires_at": None,
    }
    connection.execute(insert(glance_tasks).values(row))
    return row


def get(connection: Connection, account_id: str, task_id: str) -> dict[str, Any]:
    """The account's task (an expired one is gone); 404 otherwise."""
    return records.owned(connection, glance_tasks, account_id, task_id, not_found_error)


def find(connection: Connection, task_id: str) -> dict[str, Any] | None:
    """Any account's task (for the worker)."""
    return records.any_account(connection, glance_tasks, task_id)


def _sort_column(sort_key: str) -> ColumnElement[Any]:
    if sort_key == "owner":
        return glance_tasks.c.account_id
    if sort_key == "expires_at":  # null (not ended) sorts first, as the smallest
        return func.coalesce(glance_tasks.c.expires_at, -1.0)
    if sort_key in ("id", "type", "status", "created_at", "updated_at"):
        return glance_tasks.c[sort_key]
    raise bad_request("Sort key supplied was not valid.")


def check_filters(status: str | None, task_type: str | None) -> None:
    if status and status not in TASK_STATUSES:
        raise bad_request(f"Invalid status value: {status}")
    if task_type and task_type not in TASK_TYPES:
        raise bad_request(f"Invalid type value: {task_type}")


def list_page(
    connection: Connection,
    account_id: str,
    *,
    limit: int,
    marker: str | None,
    sort_key: str,
    sort_dir: str,
    status: str | None = None,
    task_type: str | None = None,
) -> list[dict[str, Any]]:
    """One page of the account's tasks, after ``marker`` in (sort key, id) order."""
    column = _sort_column(sort_key)
    query = select(glance_tasks).where(glance_tasks.c.account_id == account_id)
    if status:
        query = query.where(glance_tasks.c.status == status)
    if task_type:
        query = query.where(glance_tasks.c.type == task_type)
    return paging.page(
        connection,
        glance_tasks,
        query,
        column=column,
        account_id=account_id,
        marker=marker,
        descending=sort_dir == "desc",
        limit=limit,
        unknown_marker=f"Task with the given id {marker} was not found",
    )


def start(connection: Connection, task_id: str, now: float) -> bool:
    """pending -> processing; False if the task is no longer pending."""
    result = connection.execute(
        update(glance_tasks)
        .where(glance_tasks.c.id == task_id, glance_tasks.c.status == "pending")
        .values(status="processing", updated_at=now)
    )
    return bool(result.rowcount)


def finish(
    connection: Connection,
    task_id: str,
    now: float,
    *,
    result: dict[str, Any] | None = None,
    message: str = "",
    image_id: str | None = None,
) -> None:
    """The task's end: success with a result, or failure with a message; it expires later."""
    values: dict[str, Any] = {
        "status": "failure" if message else "success",
        "result": result,
        "message": message,
        "updated_at": now,
        "expires_at": now + TIME_TO_LIVE_SECONDS,
    }
    if image_id:
        values["image_id"] = image_id
    connection.execute(
        update(glance_tasks)
        .where(glance_tasks.c.id == task_id, glance_tasks.c.status.not_in(ENDED))
        .values(values)
    )


def unfinished(connection: Connection, limit: int = 100) -> list[str]:
    """Tasks to work on, oldest first: pending ones, and processing ones a stopped worker left."""
    return list(
        connection.execute(
            select(glance_tasks.c.id)
            .where(glance_tasks.c.status.in_(("pending", "processing")))
            .order_by(glance_tasks.c.created_at)
            .limit(limit)
        ).scalars()
    )


def expire(connection: Connection, now: float) -> int:
    """Forget the tasks whose ``expires_at`` has passed; how many."""
    result = connection.execute(
        delete(glance_tasks).where(glance_tasks.c.expires_at.is_not(None), glance_tasks.c.expires_at <= now)
    )
    return int(result.rowcount or 0)


def view(row: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The task as Glance shows it (in a list: without input, result and message)."""
    task = {
        "id": row["id"],
        "type": row["type"],
        "status": row["status"],
        "owner": row["account_id"],
        "created_at": isotime(row["created_at"]),
        "updated_at": isotime(row["updated_at"]),
        "expires_at": isotime(row["expires_at"]),
        "self": f"/v2/tasks/{row['id']}",
        "schema": "/v2/schemas/task",
    }
    if not partial:
        task |= {"input": row["input"], "result": row["result"], "message": row["message"] or ""}
        for name in ("image_id", "request_id", "user_id"):
            if row.get(name):
                task[name] = row[name]
    return project(task, _PARTIAL if partial else TASK_PROPERTIES)
