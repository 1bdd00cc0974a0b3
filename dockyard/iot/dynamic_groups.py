"""Dynamic thing groups: members are the things their fleet-indexing query matches, evaluated
when they are read (ListThingsInThingGroup, a job's targets) and, for continuous jobs, each
time a thing is made, changed or registered (``continuous.thing_changed``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, select, update

from dockyard.context import RequestContext
from dockyard.iot import common
from dockyard.iot.errors import InvalidRequestException, VersionConflictException
from dockyard.iot.fleet_query import ThingFacts, parse
from dockyard.store.schema import container_instances, iot_group_members, iot_thing_groups, iot_things

INDEX = "AWS_Things"
VERSION = "2017-09-30"
_g = iot_thing_groups.c
_t = iot_things.c


def _facts(ctx: RequestContext, things: list[Row[Any]]) -> list[ThingFacts]:
    """What a query can ask of each thing: its own members, static groups and connectivity."""
    ids = [thing.id for thing in things]
    groups: dict[int, set[str]] = {}
    if ids:
        rows = ctx.conn.execute(
            select(iot_group_members.c.thing_row, _g.name)
            .join(iot_thing_groups, _g.id == iot_group_members.c.group_row)
            .where(iot_group_members.c.thing_row.in_(ids))
        )
        for thing_row, name in rows:
            groups.setdefault(thing_row, set()).add(name)
    from dockyard.ecs.container_instances import agent_connected  # ecs imports iot: at call time

    arns = [thing.instance_arn for thing in things if thing.instance_arn]
    instances = {}
    if arns:
        found = ctx.conn.execute(select(container_instances).where(container_instances.c.arn.in_(arns)))
        instances = {row.arn: agent_connected(row, ctx.now) for row in found}
    return [
        ThingFacts(
            name=thing.name,
            type_name=thing.thing_type_name,
            attributes=dict(thing.attributes),
            groups=frozenset(groups.get(thing.id, ())),
            connected=instances.get(thing.instance_arn, False),
        )
        for thing in things
    ]


def _all_things(ctx: RequestContext) -> list[Row[Any]]:
    return list(
        ctx.conn.execute(
            select(iot_things)
            .where(_t.account_id == ctx.account_id, _t.region == ctx.region)
            .order_by(_t.name)
        )
    )


def member_names(ctx: RequestContext, group: Row[Any]) -> list[str]:
    """The names of the things a dynamic group's query matches now, in name order."""
    predicate = parse(group.query_string)
    things = _all_things(ctx)
    return [facts.name for facts in _facts(ctx, things) if predicate(facts)]


def matches(ctx: RequestContext, group: Row[Any], thing: Row[Any]) -> bool:
    return parse(group.query_string)(_facts(ctx, [thing])[0])


def dynamic(ctx: RequestContext) -> list[Row[Any]]:
    return list(
        ctx.conn.execute(
            select(iot_thing_groups).where(
                _g.account_id == ctx.account_id, _g.region == ctx.region, _g.query_string.is_not(None)
            )
        )
    )


def groups_matching(ctx: RequestContext, thing: Row[Any]) -> list[int]:
    facts = _facts(ctx, [thing])[0]
    return [group.id for group in dynamic(ctx) if parse(group.query_string)(facts)]


def page_of_members(
    ctx: RequestContext, group: Row[Any], next_token: str | None, max_results: int | None
) -> dict[str, Any]:
    scope = (ctx.account_id, ctx.region, "dynamic-members", group.id)
    limit = common.page_size(max_results)
    try:
        after = ctx.tokens.open(next_token, scope)[0] if next_token else None
    except Exception:
        raise InvalidRequestException("Invalid nextToken.") from None
    names = [name for name in member_names(ctx, group) if after is None or name > after]
    result: dict[str, Any] = {"things": names[:limit]}
    if len(names) > limit:
        result["nextToken"] = ctx.tokens.seal([names[limit - 1]], scope)
    return result


def create_dynamic_thing_group(
    ctx: RequestContext,
    *,
    thing_group_name: str,
    query_string: str,
    thing_group_properties: dict[str, Any] | None = None,
    index_name: str | None = None,
    query_version: str | None = None,
    tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    from dockyard.iot.thing_groups import group_arn, insert_group

    _check_index(index_name)
    parse(query_string)
    row = insert_group(
        ctx,
        thing_group_name,
        parent=None,
        properties=thing_group_properties or {},
        managed=False,
        query_string=query_string,
    )
    return {
        "thingGroupName": row.name,
        "thingGroupArn": group_arn(ctx, row.name),
        "thingGroupId": row.group_id,
        "indexName": INDEX,
        "queryString": query_string,
        "queryVersion": VERSION,
    }


def _check_index(index_name: str | None) -> None:
    if index_name not in (None, INDEX):
        raise InvalidRequestException(f"Index {index_name} does not exist: things are in {INDEX}.")


def _dynamic_group(ctx: RequestContext, name: str, expected_version: int | None) -> Row[Any]:
    row = common.group(ctx, name)
    if row.query_string is None:
        raise InvalidRequestException(f"Thing group {name} is not dynamic.")
    if expected_version is not None and expected_version != row.version:
        raise VersionConflictException(
            f"The version for thing group {name} does not match the expected version."
        )
    return row


def update_dynamic_thing_group(
    ctx: RequestContext,
    *,
    thing_group_name: str,
    thing_group_properties: dict[str, Any],
    expected_version: int | None = None,
    index_name: str | None = None,
    query_string: str | None = None,
    query_version: str | None = None,
) -> dict[str, Any]:
    row = _dynamic_group(ctx, thing_group_name, expected_version)
    _check_index(index_name)
    if query_string is not None:
        parse(query_string)
    properties = dict(row.properties, **thing_group_properties)
    ctx.conn.execute(
        update(iot_thing_groups)
        .where(_g.id == row.id)
        .values(properties=properties, query_string=query_string or row.query_string, version=row.version + 1)
    )
    return {"version": row.version + 1}


def delete_dynamic_thing_group(
    ctx: RequestContext, *, thing_group_name: str, expected_version: int | None = None
) -> dict[str, Any]:
    if common.find_group(ctx, thing_group_name) is None:
        return {}
    row = _dynamic_group(ctx, thing_group_name, expected_version)
    ctx.conn.execute(delete(iot_thing_groups).where(_g.id == row.id))
    return {}
