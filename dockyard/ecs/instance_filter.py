"""ListContainerInstances ``filter``: the cluster query language over the cluster's instances."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select

from dockyard.context import RequestContext
from dockyard.ecs.task_placement import load_snapshot
from dockyard.placement.query_language import parse


def filtered_page(
    ctx: RequestContext,
    cluster: Row[Any],
    query: Select[Any],
    expression: str,
    limit: int,
    after: list[Any] | None,
) -> tuple[list[str], list[Any] | None]:
    """ARNs of the instances ``query`` selects that match ``expression``, one page of them.

    The expression is checked first, so a malformed one fails even on an empty cluster.
    """
    compiled = parse(expression)
    wanted_ids = {row.id for row in ctx.conn.execute(query.with_only_columns(query.selected_columns.id))}
    snapshot = load_snapshot(ctx, cluster.name, sorted(wanted_ids), include_inactive=True)
    start = after[0] if after else 0
    matching = sorted((s for s in snapshot if s.id > start and compiled.matches(s)), key=lambda s: s.id)
    page = matching[:limit]
    last = [page[-1].id] if len(matching) > limit else None
    return [instance.arn for instance in page], last
