"""Things: the user's own, and one per container instance (made and removed with its
registration, ``fleet.py``; Dockyard manages those, users only read them)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from dockyard.context import RequestContext
from dockyard.iot import common
from dockyard.iot.errors import (
    InvalidRequestException,
    ResourceAlreadyExistsException,
    VersionConflictException,
)
from dockyard.iot.jobs import continuous
from dockyard.store.schema import iot_group_members, iot_things

_t = iot_things.c


def render(ctx: RequestContext, row: Row[Any]) -> dict[str, Any]:
    """A ThingAttribute (ListThings' item)."""
    return {
        "thingName": row.name,
        "thingTypeName": row.thing_type_name,
        "thingArn": common.arn(ctx, f"thing/{row.name}"),
        "attributes": row.attributes,
        "version": row.version,
    }


def insert_thing(
    ctx: RequestContext,
    name: str,
    *,
    type_name: str | None,
    attributes: dict[str, str],
    instance_arn: str | None,
) -> Row[Any]:
    if common.find_thing(ctx, name) is not None:
        raise ResourceAlreadyExistsException(
            f"Thing {name} already exists in account with different attributes",
            resourceId=name,
            resourceArn=common.arn(ctx, f"thing/{name}"),
        )
    ctx.conn.execute(
        insert(iot_things).values(
            account_id=ctx.account_id,
            region=ctx.region,
            name=name,
            thing_id=str(uuid.uuid4()),
            thing_type_name=type_name,
            attributes=attributes,
            version=1,
            instance_arn=instance_arn,
            created_at=ctx.now,
        )
    )
    return common.thing(ctx, name)


def remove_thing(ctx: RequestContext, row: Row[Any]) -> None:
    ctx.conn.execute(delete(iot_group_members).where(iot_group_members.c.thing_row == row.id))
    ctx.conn.execute(delete(iot_things).where(_t.id == row.id))


def _user_thing(ctx: RequestContext, name: str) -> Row[Any]:
    row = common.thing(ctx, name)
    if row.instance_arn is not None:
        raise InvalidRequestException(
            f"Thing {name} is container instance {row.instance_arn}: Dockyard manages it."
        )
    return row


def _check_version(row: Row[Any], expected: int | None) -> None:
    if expected is not None and expected != row.version:
        raise VersionConflictException(
            f"The version for thing {row.name} does not match the expected version."
        )


def create_thing(
    ctx: RequestContext,
    *,
    thing_name: str,
    thing_type_name: str | None = None,
    attribute_payload: dict[str, Any] | None = None,
    billing_group_name: str | None = None,
) -> dict[str, Any]:
    attributes = dict((attribute_payload or {}).get("attributes") or {})
    row = insert_thing(ctx, thing_name, type_name=thing_type_name, attributes=attributes, instance_arn=None)
    continuous.thing_changed(ctx, row.name)
    return {"thingName": row.name, "thingArn": common.arn(ctx, f"thing/{row.name}"), "thingId": row.thing_id}


def describe_thing(ctx: RequestContext, *, thing_name: str) -> dict[str, Any]:
    row = common.thing(ctx, thing_name)
    return {
        "defaultClientId": row.name,
        "thingId": row.thing_id,
        **render(ctx, row),
    }


def update_thing(
    ctx: RequestContext,
    *,
    thing_name: str,
    thing_type_name: str | None = None,
    attribute_payload: dict[str, Any] | None = None,
    expected_version: int | None = None,
    remove_thing_type: bool | None = None,
) -> dict[str, Any]:
    row = _user_thing(ctx, thing_name)
    _check_version(row, expected_version)
    attributes = dict(row.attributes)
    given = (attribute_payload or {}).get("attributes") or {}
    if (attribute_payload or {}).get("merge"):
        attributes.update(given)
        attributes = {key: value for key, value in attributes.items() if value != ""}
    elif attribute_payload is not None:
        attributes = {key: value for key, value in given.items() if value != ""}
    type_name = None if remove_thing_type else (thing_type_name or row.thing_type_name)
    ctx.conn.execute(
        update(iot_things)
        .where(_t.id == row.id)
        .values(attributes=attributes, thing_type_name=type_name, version=row.version + 1)
    )
    continuous.thing_changed(ctx, row.name)
    return {}


def delete_thing(
    ctx: RequestContext, *, thing_name: str, expected_version: int | None = None
) -> dict[str, Any]:
    row = common.find_thing(ctx, thing_name)
    if row is None:
        return {}  # as IoT: deleting a thing that does not exist succeeds
    if row.instance_arn is not None:
        _user_thing(ctx, thing_name)
    _check_version(row, expected_version)
    continuous.thing_removed(ctx, row.name)  # its pending executions can never run now
    remove_thing(ctx, row)
    return {}


def list_things(
    ctx: RequestContext,
    *,
    next_token: str | None = None,
    max_results: int | None = None,
    attribute_name: str | None = None,
    attribute_value: str | None = None,
    thing_type_name: str | None = None,
    use_prefix_attribute_value: bool | None = None,
) -> dict[str, Any]:
    query = select(iot_things).where(_t.account_id == ctx.account_id, _t.region == ctx.region)
    if thing_type_name:
        query = query.where(_t.thing_type_name == thing_type_name)
    result = common.page(
        ctx,
        member="things",
        query=query,
        keys=[_t.name],
        scope=("things", thing_type_name),
        next_token=next_token,
        max_results=max_results,
        item=lambda row: render(ctx, row),
    )
    if attribute_name:  # rare: filtered after the page is read (IoT pages may come up short)
        result["things"] = [
            thing
            for thing in result["things"]
            if _attribute_matches(
                thing["attributes"].get(attribute_name), attribute_value, use_prefix_attribute_value
            )
        ]
    return result


def _attribute_matches(value: str | None, wanted: str | None, prefix: bool | None) -> bool:
    if value is None:
        return False
    if wanted is None:
        return True
    return value.startswith(wanted) if prefix else value == wanted
