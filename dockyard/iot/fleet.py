"""Container instances as things, clusters as thing groups.

Registration makes the instance's thing (named by the container instance id, type
``dockyard-container-instance``, ECS facts as attributes where they fit IoT's patterns) and
puts it in its cluster's group, made on first use and managed by Dockyard; deregistration
removes the thing, so a continuous job's queued work for it goes with it.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError

from dockyard.context import RequestContext
from dockyard.identity import keys
from dockyard.iot import common, thing_groups, things
from dockyard.iot.errors import ResourceAlreadyExistsException
from dockyard.store.schema import attributes

THING_TYPE = "dockyard-container-instance"
_NAME = re.compile(r"[a-zA-Z0-9_.,@/:#-]+")
_VALUE = re.compile(r"[a-zA-Z0-9_.,@/:#=\[\]-]*")
_MOST_ATTRIBUTES = 50  # IoT's limit for a thing with a type


def _thing_attributes(ctx: RequestContext, cluster_name: str, instance: Row[Any]) -> dict[str, str]:
    found = {"ecs.cluster": cluster_name, "ecs.ec2-instance-id": instance.ec2_instance_id}
    rows = ctx.conn.execute(
        select(attributes.c.name, attributes.c.value).where(
            attributes.c.account_id == ctx.account_id,
            attributes.c.region == ctx.region,
            attributes.c.cluster_name == cluster_name,  # the unique index's next column: no scan
            attributes.c.target_id == instance.arn,
        )
    )
    for row in rows:
        value = row.value or ""
        if (
            len(found) < _MOST_ATTRIBUTES
            and _NAME.fullmatch(row.name)
            and _VALUE.fullmatch(value)
            and len(value) <= 800
        ):
            found[row.name] = value
    return found


def instance_registered(ctx: RequestContext, cluster_name: str, instance: Row[Any]) -> None:
    """The instance's thing exists, in its cluster's group (a re-registration changes nothing)."""
    from dockyard.iot.jobs import continuous

    if common.find_thing(ctx, instance.instance_id) is not None:
        return  # an agent restarting: the same instance, already a thing in its group
    thing_row = things.insert_thing(
        ctx,
        instance.instance_id,
        type_name=THING_TYPE,
        attributes=_thing_attributes(ctx, cluster_name, instance),
        instance_arn=instance.arn,
    )
    group_row = _cluster_group(ctx, cluster_name)
    if group_row.managed:  # a user's group of the cluster's name is left alone
        thing_groups.add_member(ctx, group_row.id, thing_row.id)
        continuous.thing_joined(ctx, thing_row.name, group_row.name)
    continuous.thing_changed(ctx, thing_row.name)


def _cluster_group(ctx: RequestContext, cluster_name: str) -> Row[Any]:
    """The cluster's group, made on first use. Instances of a new cluster may register at the
    same moment on PostgreSQL: the loser of the insert takes the winner's group."""
    found = common.find_group(ctx, cluster_name)
    if found is not None:
        return found
    try:
        with ctx.conn.begin_nested():
            return thing_groups.insert_group(
                ctx,
                cluster_name,
                parent=None,
                properties={
                    "thingGroupDescription": f"The container instances of ECS cluster {cluster_name}"
                },
                managed=True,
            )
    except (IntegrityError, ResourceAlreadyExistsException):
        pass  # the other insert committed between our look and ours (READ COMMITTED)
    found = common.find_group(ctx, cluster_name)
    assert found is not None  # the concurrent insert committed before ours failed
    return found


def instance_deregistered(ctx: RequestContext, instance: Row[Any]) -> None:
    thing_row = common.find_thing(ctx, instance.instance_id)
    if thing_row is not None and thing_row.instance_arn == instance.arn:
        from dockyard.iot.jobs import continuous

        continuous.thing_removed(ctx, thing_row.name)
        things.remove_thing(ctx, thing_row)
        keys.revoke_device_keys(ctx.conn, ctx.account_id, thing_row.name)  # its agent's key dies with it
