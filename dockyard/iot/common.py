"""What IoT's actions share: ARNs, lookups by name, and List pages (keyset, sealed tokens)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, Table, bindparam, select

from dockyard.context import RequestContext
from dockyard.iot.errors import InvalidRequestException, ResourceNotFoundException
from dockyard.store.pagination import PagedQuery, fetch_page
from dockyard.store.schema import iot_thing_groups, iot_things


def arn(ctx: RequestContext, resource: str) -> str:
    """``arn:aws:iot:REGION:ACCOUNT:thing/NAME`` and its kin (``thinggroup/``, ``job/``)."""
    return f"arn:aws:iot:{ctx.region}:{ctx.account_id}:{resource}"


def arn_name(ctx: RequestContext, value: str, kind: str) -> str | None:
    """The name in an ARN of this account and region naming a ``kind`` (``thing``), else None."""
    prefix = arn(ctx, f"{kind}/")
    return value[len(prefix) :] if value.startswith(prefix) and len(value) > len(prefix) else None


def _named(table: Table) -> Select[Any]:
    columns = table.c
    return select(table).where(
        columns.account_id == bindparam("account_id"),
        columns.region == bindparam("region"),
        columns.name == bindparam("name"),
    )


_BY_NAME = {table.name: _named(table) for table in (iot_things, iot_thing_groups)}  # built once


def _by_name(ctx: RequestContext, table: Table, name: str) -> Row[Any] | None:
    values = {"account_id": ctx.account_id, "region": ctx.region, "name": name}
    return ctx.conn.execute(_BY_NAME[table.name], values).first()


def find_thing(ctx: RequestContext, name: str) -> Row[Any] | None:
    return _by_name(ctx, iot_things, name)


def thing(
    ctx: RequestContext, name: str, missing: Callable[[str], Exception] = ResourceNotFoundException
) -> Row[Any]:
    found = find_thing(ctx, name)
    if found is None:
        raise missing(f"Thing {name} cannot be found.")
    return found


def find_group(ctx: RequestContext, name: str) -> Row[Any] | None:
    return _by_name(ctx, iot_thing_groups, name)


def group(ctx: RequestContext, name: str) -> Row[Any]:
    found = find_group(ctx, name)
    if found is None:
        raise ResourceNotFoundException(f"ThingGroup {name} cannot be found.")
    return found


def page_size(max_results: int | None, maximum: int = 250) -> int:
    if max_results is None:
        return min(maximum, 100)
    if not 1 <= max_results <= maximum:
        raise InvalidRequestException(f"maxResults must be between 1 and {maximum}.")
    return max_results


def page(
    ctx: RequestContext,
    *,
    member: str,
    query: Select[Any] | PagedQuery,
    keys: Sequence[ColumnElement[Any]] = (),
    scope: tuple[Any, ...],
    next_token: str | None,
    max_results: int | None,
    item: Callable[[Row[Any]], Any] | None = None,
    items: Callable[[list[Row[Any]]], list[Any]] | None = None,
    maximum: int = 250,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One keyset page and its sealed ``nextToken`` (bound to the account, region and filters);
    a prebuilt ``PagedQuery`` takes its filters' values in ``params``. Each row is rendered by
    ``item``, or the whole page at once by ``items``."""
    scope = (ctx.account_id, ctx.region, *scope)
    limit = page_size(max_results, maximum)
    try:
        after = ctx.tokens.open(next_token, scope) if next_token else None
    except Exception:
        raise InvalidRequestException("Invalid nextToken.") from None
    rows, last = fetch_page(ctx.conn, query, keys, limit=limit, after=after, params=params)
    if items is None:
        assert item is not None
        rendered = [item(row) for row in rows]
    else:
        rendered = items(rows)
    result: dict[str, Any] = {member: rendered}
    if last is not None:
        result["nextToken"] = ctx.tokens.seal(last, scope)
    return result
