"""What every Describe action shares: the items a request names (by id or ARN), read in one
statement whatever their number, instead of one statement each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Row, Select

from dockyard.context import RequestContext
from dockyard.ecs import arns
from dockyard.store import direct
from dockyard.store.expressions import in_values


def find_many(
    ctx: RequestContext,
    identifiers: list[str],
    resource_type: str,
    statement: Callable[[int], Select[Any]],
    scope: dict[str, Any],
    id_of: Callable[[Row[Any]], str],
) -> dict[str, Row[Any]]:
    """identifier -> row for those of ``identifiers`` found. ``statement(n)`` selects the rows
    whose ids are the parameters ``id_0`` ... ``id_<n-1>`` (built once per ``n``), within
    ``scope``'s parameters; ``id_of`` reads a row's id."""
    named = {identifier: arns.named_id(ctx, identifier, resource_type) for identifier in identifiers}
    wanted = sorted({found for found in named.values() if found})
    if not wanted:
        return {}
    values = {**scope, **in_values("id", wanted)}
    rows = {id_of(row): row for row in direct.fetch(ctx.conn, statement(len(wanted)), values)}
    return {identifier: rows[found] for identifier, found in named.items() if found in rows}
