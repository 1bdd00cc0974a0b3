"""A job's targets (thing and thing-group ARNs) to the names of the things they cover."""

from __future__ import annotations

from dockyard.context import RequestContext
from dockyard.iot import common, dynamic_groups
from dockyard.iot.errors import InvalidRequestException, ResourceNotFoundException
from dockyard.iot.thing_groups import member_names_query


def expand(ctx: RequestContext, targets: list[str]) -> list[str]:
    """Every thing a job on ``targets`` covers now (in the caller's account only)."""
    names: list[str] = []
    for target in targets:
        thing_name = common.arn_name(ctx, target, "thing")
        group_name = common.arn_name(ctx, target, "thinggroup")
        if thing_name is not None:
            names.append(common.thing(ctx, thing_name).name)
        elif group_name is not None:
            group = common.group(ctx, group_name)
            if group.query_string is not None:
                names.extend(dynamic_groups.member_names(ctx, group))
            else:
                names.extend(ctx.conn.execute(member_names_query(ctx, group.id)).scalars())
        elif target.startswith("arn:aws:iot:"):
            raise ResourceNotFoundException(f"Target {target} cannot be found.")
        else:
            raise InvalidRequestException(f"Target {target} is not a thing or thing group ARN.")
    return list(dict.fromkeys(names))
