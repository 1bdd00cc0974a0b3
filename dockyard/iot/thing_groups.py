"""Static thing groups: the user's, and one per cluster that Dockyard keeps (``fleet.py``):
its members are the cluster's container instances, and only Dockyard changes them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from dockyard.context import RequestContext
from dockyard.iot import common, dynamic_groups
from dockyard.iot.errors import (
    InvalidRequestException,
    ResourceAlreadyExistsException,
    VersionConflictException,
)
from dockyard.store.schema import iot_group_members, iot_thing_groups, iot_things

_g = iot_thing_groups.c
_m = iot_group_members.c


def group_arn(ctx: RequestContext, name: str) -> str:
    return common.arn(ctx, f"thinggroup/{name}")


def insert_group(
    ctx: RequestContext,
    name: str,
    *,
    parent: str | None,
    properties: dict[str, Any],
    managed: bool,
    query_string: str | None = None,
) -> Row[Any]:
    if common.find_group(ctx, name) is not None:
        raise ResourceAlreadyExistsException(
            f"Thing Group {name} already exists.", resourceId=name, resourceArn=group_arn(ctx, name)
        )
    if parent is not None:
        common.group(ctx, parent)
    ctx.conn.execute(
        insert(iot_thing_groups).values(
            account_id=ctx.account_id,
            region=ctx.region,
            name=name,
            group_id=str(uuid.uuid4()),
            parent_name=parent,
            properties=properties,
            version=1,
            managed=managed,
            query_string=query_string,
            created_at=ctx.now,
        )
    )
    return common.group(ctx, name)


def add_member(ctx: RequestContext, group_row: int, thing_row: int) -> None:
    exists = ctx.conn.execute(
        select(_m.group_row).where(_m.group_row == group_row, _m.thing_row == thing_row)
    ).first()
    if exists is None:
        ctx.conn.execute(insert(iot_group_members).values(group_row=group_row, thing_row=thing_row))


def _user_group(ctx: RequestContext, name: str) -> Row[Any]:
    row = common.group(ctx, name)
    if row.managed:
        raise InvalidRequestException(f"Thing group {name} is a cluster's: Dockyard manages its members.")
    if row.query_string is not None:
        raise InvalidRequestException(f"Thing group {name} is dynamic: its query decides its members.")
    return row


def create_thing_group(
    ctx: RequestContext,
    *,
    thing_group_name: str,
    parent_group_name: str | None = None,
    thing_group_properties: dict[str, Any] | None = None,
    tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    row = insert_group(
        ctx,
        thing_group_name,
        parent=parent_group_name,
        properties=thing_group_properties or {},
        managed=False,
    )
    return {
        "thingGroupName": row.name,
        "thingGroupArn": group_arn(ctx, row.name),
        "thingGroupId": row.group_id,
    }


def describe_thing_group(ctx: RequestContext, *, thing_group_name: str) -> dict[str, Any]:
    row = common.group(ctx, thing_group_name)
    ancestors: list[dict[str, str]] = []
    parent = row.parent_name
    while parent is not None and len(ancestors) < 8:
        parent_row = common.find_group(ctx, parent)
        if parent_row is None:
            break
        ancestors.insert(0, {"groupName": parent_row.name, "groupArn": group_arn(ctx, parent_row.name)})
        parent = parent_row.parent_name
    metadata: dict[str, Any] = {"creationDate": row.created_at, "rootToParentThingGroups": ancestors}
    if row.parent_name:
        metadata["parentGroupName"] = row.parent_name
    described = {
        "thingGroupName": row.name,
        "thingGroupId": row.group_id,
        "thingGroupArn": group_arn(ctx, row.name),
        "version": row.version,
        "thingGroupProperties": row.properties,
        "thingGroupMetadata": metadata,
    }
    if row.query_string is not None:
        described.update(
            indexName=dynamic_groups.INDEX,
            queryString=row.query_string,
            queryVersion=dynamic_groups.VERSION,
            status="ACTIVE",
        )
    return described


def update_thing_group(
    ctx: RequestContext,
    *,
    thing_group_name: str,
    thing_group_properties: dict[str, Any],
    expected_version: int | None = None,
) -> dict[str, Any]:
    row = common.group(ctx, thing_group_name)
    if expected_version is not None and expected_version != row.version:
        raise VersionConflictException(
            f"The version for thing group {thing_group_name} does not match the expected version."
        )
    properties = dict(row.properties)
    if "thingGroupDescription" in thing_group_properties:
        properties["thingGroupDescription"] = thing_group_properties["thingGroupDescription"]
    payload = thing_group_properties.get("attributePayload")
    if payload is not None:
        attributes = dict((properties.get("attributePayload") or {}).get("attributes") or {})
        if not payload.get("merge"):
            attributes = {}
        attributes.update(payload.get("attributes") or {})
        properties["attributePayload"] = {"attributes": {k: v for k, v in attributes.items() if v != ""}}
    ctx.conn.execute(
        update(iot_thing_groups).where(_g.id == row.id).values(properties=properties, version=row.version + 1)
    )
    return {"version": row.version + 1}


def delete_thing_group(
    ctx: RequestContext, *, thing_group_name: str, expected_version: int | None = None
) -> dict[str, Any]:
    row = common.find_group(ctx, thing_group_name)
    if row is None:
        return {}
    _user_group(ctx, thing_group_name)
    if expected_version is not None and expected_version != row.version:
        raise VersionConflictException(
            f"The version for thing group {thing_group_name} does not match the expected version."
        )
    child = ctx.conn.execute(
        select(_g.name).where(
            _g.account_id == ctx.account_id, _g.region == ctx.region, _g.parent_name == row.name
        )
    ).first()
    if child is not None:
        raise InvalidRequestException(f"Cannot delete thing group {row.name}: it has child groups.")
    ctx.conn.execute(delete(iot_group_members).where(_m.group_row == row.id))
    ctx.conn.execute(delete(iot_thing_groups).where(_g.id == row.id))
    return {}


def _membership(
    ctx: RequestContext,
    group_name: str | None,
    group_arn_value: str | None,
    thing_name: str | None,
    thing_arn: str | None,
) -> tuple[Row[Any], Row[Any]]:
    group_name = group_name or (group_arn_value and common.arn_name(ctx, group_arn_value, "thinggroup"))
    thing_name = thing_name or (thing_arn and common.arn_name(ctx, thing_arn, "thing"))
    if not group_name or not thing_name:
        raise InvalidRequestException("A thing group and a thing, by name or ARN, are required.")
    group_row = _user_group(ctx, group_name)
    return group_row, common.thing(ctx, thing_name)


def add_thing_to_thing_group(
    ctx: RequestContext,
    *,
    thing_group_name: str | None = None,
    thing_group_arn: str | None = None,
    thing_name: str | None = None,
    thing_arn: str | None = None,
    override_dynamic_groups: bool | None = None,
) -> dict[str, Any]:
    group_row, thing_row = _membership(ctx, thing_group_name, thing_group_arn, thing_name, thing_arn)
    add_member(ctx, group_row.id, thing_row.id)
    from dockyard.iot.jobs import continuous

    continuous.thing_joined(ctx, thing_row.name, group_row.name)
    return {}


def remove_thing_from_thing_group(
    ctx: RequestContext,
    *,
    thing_group_name: str | None = None,
    thing_group_arn: str | None = None,
    thing_name: str | None = None,
    thing_arn: str | None = None,
) -> dict[str, Any]:
    group_row, thing_row = _membership(ctx, thing_group_name, thing_group_arn, thing_name, thing_arn)
    ctx.conn.execute(
        delete(iot_group_members).where(_m.group_row == group_row.id, _m.thing_row == thing_row.id)
    )
    from dockyard.iot.jobs import continuous

    continuous.thing_left(ctx, thing_row.name, group_row.name)
    return {}


def list_thing_groups(
    ctx: RequestContext,
    *,
    next_token: str | None = None,
    max_results: int | None = None,
    parent_group: str | None = None,
    name_prefix_filter: str | None = None,
    recursive: bool | None = None,
) -> dict[str, Any]:
    query = select(iot_thing_groups).where(_g.account_id == ctx.account_id, _g.region == ctx.region)
    if parent_group:
        query = query.where(_g.parent_name == parent_group)
    if name_prefix_filter:
        query = query.where(_g.name.startswith(name_prefix_filter, autoescape=True))
    return common.page(
        ctx,
        member="thingGroups",
        query=query,
        keys=[_g.name],
        scope=("thing-groups", parent_group, name_prefix_filter),
        next_token=next_token,
        max_results=max_results,
        item=lambda row: {"groupName": row.name, "groupArn": group_arn(ctx, row.name)},
    )


def member_names_query(ctx: RequestContext, group_row: int) -> Any:
    return (
        select(iot_things.c.name)
        .join(iot_group_members, _m.thing_row == iot_things.c.id)
        .where(_m.group_row == group_row)
    )


def list_things_in_thing_group(
    ctx: RequestContext,
    *,
    thing_group_name: str,
    recursive: bool | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    row = common.group(ctx, thing_group_name)
    if row.query_string is not None:
        return dynamic_groups.page_of_members(ctx, row, next_token, max_results)
    return common.page(
        ctx,
        member="things",
        query=member_names_query(ctx, row.id),
        keys=[iot_things.c.name],
        scope=("group-things", row.id),
        next_token=next_token,
        max_results=max_results,
        item=lambda found: found.name,
    )


def list_thing_groups_for_thing(
    ctx: RequestContext, *, thing_name: str, next_token: str | None = None, max_results: int | None = None
) -> dict[str, Any]:
    thing_row = common.thing(ctx, thing_name)
    matching = dynamic_groups.groups_matching(ctx, thing_row)
    query = select(iot_thing_groups).where(
        _g.id.in_(select(_m.group_row).where(_m.thing_row == thing_row.id)) | _g.id.in_(matching)
    )
    return common.page(
        ctx,
        member="thingGroups",
        query=query,
        keys=[_g.name],
        scope=("thing-groups-for", thing_row.id),
        next_token=next_token,
        max_results=max_results,
        item=lambda row: {"groupName": row.name, "groupArn": group_arn(ctx, row.name)},
    )
