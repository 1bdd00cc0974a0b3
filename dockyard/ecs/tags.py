"""Tagging: TagResource, UntagResource, ListTagsForResource on any taggable resource.

A resource is named by its ARN alone. The ARN's resource type picks an entry of
``TAGGABLE``: the table that holds that kind of resource (every such table has a unique
``arn`` column and a ``tags`` document) and what a well-formed resource id looks like.
A new taggable resource is one more line there.

Errors follow ECS: an ARN that is not an ECS ARN, or of a type that cannot be tagged, or
whose id is malformed, is an InvalidParameterException; a well-formed ARN that names
nothing the caller owns (another account or region, or no such resource) is the type's
not-found error.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, Table, bindparam, select, update

from dockyard.context import RequestContext
from dockyard.ecs import arns
from dockyard.ecs.tagging import check_tag_key, check_tags, merge_tags
from dockyard.errors import (
    ClientError,
    ClusterNotFoundException,
    InvalidParameterException,
    ResourceNotFoundException,
)
from dockyard.store import direct
from dockyard.store.expressions import one_of
from dockyard.store.schema import clusters, container_instances, task_definitions, tasks

_NAME = r"[a-zA-Z0-9_-]{1,255}"


@dataclass(frozen=True, slots=True)
class Taggable:
    """One kind of taggable resource."""

    table: Table
    resource_id: re.Pattern[str]  # the part of the ARN after "<type>/"
    not_found: type[ClientError]
    # When set, rows in other statuses (a deleted cluster) name nothing.
    live_statuses: tuple[str, ...] = ()


# ARN resource type -> where its resources live.
TAGGABLE: dict[str, Taggable] = {
    "cluster": Taggable(clusters, re.compile(_NAME), ClusterNotFoundException, ("ACTIVE",)),
    "task-definition": Taggable(
        task_definitions, re.compile(rf"{_NAME}:[1-9][0-9]{{0,9}}"), ResourceNotFoundException
    ),
    "container-instance": Taggable(
        container_instances,
        re.compile(rf"({_NAME}/)?[a-f0-9]{{32}}"),
        InvalidParameterException,
        ("ACTIVE", "DRAINING"),
    ),
    "task": Taggable(tasks, re.compile(rf"({_NAME}/)?[a-f0-9]{{32}}"), InvalidParameterException),
}


@functools.cache
def _tags_of(resource_type: str, lock: bool) -> Select[Any]:
    """The statement reading a resource's tags by ARN, built once per type."""
    kind = TAGGABLE[resource_type]
    table = kind.table
    query = select(table.c.tags).where(
        table.c.arn == bindparam("arn"),
        table.c.account_id == bindparam("account"),
        table.c.region == bindparam("region"),
    )
    if kind.live_statuses:
        query = query.where(one_of(table.c.status, kind.live_statuses))
    # Tag changes read, merge and write the document: one writer per resource.
    return query.with_for_update() if lock else query


def _resolve(ctx: RequestContext, resource_arn: str, *, lock: bool = False) -> tuple[Table, Row[Any]]:
    """The table and row (its ``tags``) of the caller's resource named by ``resource_arn``."""
    parsed = arns.parse(resource_arn)
    if parsed is None:
        raise InvalidParameterException(f"Invalid ARN: {resource_arn}")
    kind = TAGGABLE.get(parsed.resource_type)
    if kind is None:
        raise InvalidParameterException(f"Unsupported resource type: {parsed.resource_type}")
    if not kind.resource_id.fullmatch(parsed.resource_id):
        raise InvalidParameterException(f"Invalid {parsed.resource_type} ARN: {resource_arn}")
    # Resources of another account or region are as invisible as ones that do not exist.
    owned = arns.arn(ctx, f"{parsed.resource_type}/{parsed.resource_id}") == resource_arn
    row = None
    if owned:
        scope = {"arn": resource_arn, "account": ctx.account_id, "region": ctx.region}
        row = direct.fetch(ctx.conn, _tags_of(parsed.resource_type, lock), scope).first()
    if row is None:
        raise kind.not_found(f"The specified {parsed.resource_type} was not found: {resource_arn}")
    return kind.table, row


def _store(ctx: RequestContext, table: Table, resource_arn: str, tags: list[dict[str, str]]) -> None:
    ctx.conn.execute(
        update(table)
        .where(
            table.c.arn == resource_arn,
            table.c.account_id == ctx.account_id,
            table.c.region == ctx.region,
        )
        .values(tags=tags)
    )


def tag_resource(ctx: RequestContext, *, resource_arn: str, tags: list[dict[str, Any]]) -> dict[str, Any]:
    """Add tags; a key the resource already has gets the new value. At most 50 in all."""
    given = check_tags(tags)
    table, row = _resolve(ctx, resource_arn, lock=True)
    merged = merge_tags(row.tags or [], given)
    if merged != row.tags:
        _store(ctx, table, resource_arn, merged)
    return {}


def untag_resource(ctx: RequestContext, *, resource_arn: str, tag_keys: list[str]) -> dict[str, Any]:
    """Remove tags by key; a key the resource does not have is no error."""
    for key in tag_keys:
        check_tag_key(key)
    table, row = _resolve(ctx, resource_arn, lock=True)
    removed = frozenset(tag_keys)
    kept = [tag for tag in row.tags or [] if tag["key"] not in removed]
    if kept != row.tags:
        _store(ctx, table, resource_arn, kept)
    return {}


def list_tags_for_resource(ctx: RequestContext, *, resource_arn: str) -> dict[str, Any]:
    """The resource's tags, in the order they were first added."""
    _table, row = _resolve(ctx, resource_arn)
    return {"tags": list(row.tags or [])}
