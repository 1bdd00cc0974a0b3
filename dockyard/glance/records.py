"""One row of a Glance table (tasks, images) by id: the caller's own, or any account's for the
workers. Both tables key on ``id`` and carry ``account_id``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table, select


def owned(
    connection: Connection, table: Table, account_id: str, record_id: str, missing: Callable[[str], Exception]
) -> dict[str, Any]:
    """The account's record; ``missing(record_id)`` is raised when it has none of that id."""
    row = connection.execute(
        select(table).where(table.c.id == record_id, table.c.account_id == account_id)
    ).first()
    if row is None:
        raise missing(record_id)
    return dict(row._mapping)


def any_account(connection: Connection, table: Table, record_id: str) -> dict[str, Any] | None:
    row = connection.execute(select(table).where(table.c.id == record_id)).first()
    return dict(row._mapping) if row else None
