"""Keyset pages of Glance lists: ordered on (sort key, id), resumed after a marker's position,
so a page costs the same however deep it is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, Table, literal, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from dockyard.glance.errors import bad_request


def page(
    connection: Connection,
    table: Table,
    query: Select[Any],
    *,
    column: ColumnElement[Any],
    account_id: str,
    marker: str | None,
    descending: bool,
    limit: int,
    unknown_marker: str,
) -> list[dict[str, Any]]:
    """Up to ``limit`` rows of ``query`` after ``marker`` (an id of the account's; a 400 with
    ``unknown_marker`` if it has none such)."""
    ids = table.c.id
    if marker is not None:
        position = connection.execute(
            select(column.label("value")).where(ids == marker, table.c.account_id == account_id)
        ).first()
        if position is None:
            raise bad_request(unknown_marker)
        # A row value, so that both databases walk the index from the marker on.
        here, there = tuple_(column, ids), tuple_(literal(position.value), literal(marker))
        query = query.where(here < there if descending else here > there)
    order = (column.desc(), ids.desc()) if descending else (column.asc(), ids.asc())
    return [dict(row._mapping) for row in connection.execute(query.order_by(*order).limit(limit))]
