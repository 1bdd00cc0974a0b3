"""ECS ARNs: building them for the caller's account and region, and reading them back.

A request may name a resource by its name, its ID or its full ARN; an ARN of another
account or region names nothing the caller can see.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.context import RequestContext
from dockyard.errors import InvalidParameterException


def arn(ctx: RequestContext, resource: str) -> str:
    """``arn:aws:ecs:<region>:<account>:<resource>`` for the caller."""
    return f"arn:aws:ecs:{ctx.region}:{ctx.account_id}:{resource}"


@dataclass(frozen=True, slots=True)
class ParsedArn:
    region: str
    account_id: str
    resource_type: str
    resource_id: str  # everything after "<type>/"


def parse(value: str) -> ParsedArn | None:
    """The parts of an ECS ARN, or None when ``value`` is not one."""
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "ecs":
        return None
    resource_type, sep, resource_id = parts[5].partition("/")
    if not sep or not resource_id:
        return None
    return ParsedArn(parts[3], parts[4], resource_type, resource_id)


def is_arn(value: str) -> bool:
    return value.startswith("arn:")


def own_resource_id(ctx: RequestContext, value: str, resource_type: str) -> str | None:
    """The id part of ``value`` when it is an ARN of ``resource_type`` that the caller owns.

    Returns None when the ARN belongs to another account or region (the caller sees
    nothing there); raises InvalidParameterException when it is not an ARN of that type.
    """
    parsed = parse(value)
    if parsed is None or parsed.resource_type != resource_type:
        raise InvalidParameterException(f"Invalid {resource_type} ARN: {value}")
    if parsed.account_id != ctx.account_id or parsed.region != ctx.region:
        return None
    return parsed.resource_id


def named_id(ctx: RequestContext, identifier: str, resource_type: str) -> str | None:
    """The id an identifier names: itself, or the last part of an ARN of ``resource_type`` the
    caller owns (long form ``.../<cluster>/<id>`` or short); None for another's ARN."""
    if not is_arn(identifier):
        return identifier or None
    resource = own_resource_id(ctx, identifier, resource_type)
    return resource.rsplit("/", 1)[-1] if resource else None
