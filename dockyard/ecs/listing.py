"""The shape every List action shares: one keyset page of a query, and its sealed nextToken."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Select

from dockyard.context import RequestContext
from dockyard.store.pagination import PagedQuery, fetch_page, page_limit


def _arn(row: Row[Any]) -> Any:
    return row.arn


def list_page(
    ctx: RequestContext,
    *,
    member: str,
    query: Select[Any] | PagedQuery,
    keys: Sequence[ColumnElement[Any]] = (),
    scope: tuple[Any, ...],
    next_token: str | None,
    max_results: int | None,
    item: Callable[[Row[Any]], Any] = _arn,
    descending: bool = False,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``{member: [item(row), ...], "nextToken": ...}`` for one page of ``query`` by ``keys``
    (or of a prebuilt ``PagedQuery`` with its filters' values in ``params``).

    ``scope`` names the account, region and every filter, so a token only continues the very
    query it came from.
    """
    limit = page_limit(max_results)
    after = ctx.tokens.open(next_token, scope) if next_token else None
    rows, last = fetch_page(
        ctx.conn, query, keys, limit=limit, after=after, descending=descending, params=params
    )
    result: dict[str, Any] = {member: [item(row) for row in rows]}
    if last is not None:
        result["nextToken"] = ctx.tokens.seal(last, scope)
    return result
