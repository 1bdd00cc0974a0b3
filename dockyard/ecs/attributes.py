"""Attributes: PutAttributes, DeleteAttributes, ListAttributes.

An attribute is a name (and optional value) on a target inside a cluster; the only target
type ECS has is ``container-instance``. A request may name its target by short id (with
``targetType``) or by ARN, in the old (``container-instance/<id>``) or long
(``container-instance/<cluster>/<id>``) form; it is stored and returned as the long ARN,
so every spelling of one target is one row.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from dockyard.context import RequestContext
from dockyard.ecs import arns, clusters, placement_cache
from dockyard.ecs.listing import list_page
from dockyard.errors import (
    AttributeLimitExceededException,
    InvalidParameterException,
    TargetNotFoundException,
)
from dockyard.store.pagination import PagedQuery, page_limit
from dockyard.store.schema import attributes as attribute_table
from dockyard.store.schema import clusters as cluster_table

CONTAINER_INSTANCE = "container-instance"
MAX_PER_REQUEST = 10
MAX_CUSTOM_PER_TARGET = 10
# Attributes ECS itself sets on instances (ecs.os-type, capabilities) do not count
# against the custom-attribute limit.
_BUILT_IN_PREFIXES = ("ecs.", "com.amazonaws.ecs.")

_NAME = re.compile(r"[a-zA-Z0-9_./\\-]{1,128}")
_VALUE = re.compile(r"[a-zA-Z0-9_.@/\\: -]{1,128}")
_INSTANCE_ID = re.compile(r"[a-zA-Z0-9-]{1,64}")


def _check_attribute(name: str, value: str | None) -> None:
    if not _NAME.fullmatch(name):
        raise InvalidParameterException(
            f"Invalid attribute name '{name}': up to 128 letters, numbers, hyphens, "
            "underscores, periods, forward slashes and back slashes are allowed."
        )
    if value is not None and (not _VALUE.fullmatch(value) or value != value.strip(" ")):
        raise InvalidParameterException(
            f"Invalid value for attribute '{name}': 1 to 128 letters, numbers, hyphens, "
            "underscores, periods, at signs, forward slashes, back slashes, colons and "
            "spaces are allowed, and it may not start or end with a space."
        )


def _check_count(given: list[dict[str, Any]]) -> None:
    if not given:
        raise InvalidParameterException("attributes can not be empty.")
    if len(given) > MAX_PER_REQUEST:
        raise InvalidParameterException(
            f"You can specify up to {MAX_PER_REQUEST} attributes in a single call."
        )


def _target_arn(ctx: RequestContext, cluster: Row[Any], attribute: dict[str, Any]) -> str:
    """The long ARN of the attribute's target, as the caller spelled it (not yet checked
    to exist); InvalidParameterException when it is missing or malformed."""
    target_id, target_type = attribute.get("targetId"), attribute.get("targetType")
    if not target_id:
        raise InvalidParameterException("targetId is required for each attribute.")
    if not arns.is_arn(target_id):
        if target_type is None:
            raise InvalidParameterException(
                "targetType is required when targetId is a short id and not an ARN."
            )
        if not _INSTANCE_ID.fullmatch(target_id):
            raise InvalidParameterException(f"Invalid container instance id: {target_id}")
        return arns.arn(ctx, f"{CONTAINER_INSTANCE}/{cluster.name}/{target_id}")
    parsed = arns.parse(target_id)
    if parsed is None or parsed.resource_type != CONTAINER_INSTANCE:
        raise InvalidParameterException(f"Invalid container instance ARN: {target_id}")
    # The old ARN form has no cluster: the instance is in the request's cluster.
    cluster_name, _, instance_id = parsed.resource_id.rpartition("/")
    if not _INSTANCE_ID.fullmatch(instance_id) or "/" in cluster_name:
        raise InvalidParameterException(f"Invalid container instance ARN: {target_id}")
    owner = target_id.split("/", 1)[0].rsplit(":", 1)[0]  # arn:<partition>:ecs:<region>:<account>
    return f"{owner}:{CONTAINER_INSTANCE}/{cluster_name or cluster.name}/{instance_id}"


def find_target(ctx: RequestContext, cluster: Row[Any], target_arn: str) -> str:
    """The ARN of the registered container instance ``target_arn`` names in the caller's
    ``cluster``; TargetNotFoundException when there is none (or it was deregistered)."""
    from dockyard.ecs import container_instances

    # ``target_arn`` is in the long form (``_target_arn``): an ARN naming another cluster
    # names no instance of this one, even when its id is one of this cluster's.
    named_cluster = target_arn.rsplit("/", 2)[-2]
    instance = container_instances.find(ctx, cluster, target_arn)
    if named_cluster != cluster.name or instance is None or instance.status == "INACTIVE":
        raise TargetNotFoundException(f"Could not find {target_arn} in cluster {cluster.name}.")
    return str(instance.arn)


def _lock(ctx: RequestContext, cluster: Row[Any]) -> None:
    # PutAttributes reads the count, then writes: serialize writers of one cluster on
    # PostgreSQL so two requests cannot both pass the limit (SQLite writers already queue).
    ctx.conn.execute(select(cluster_table.c.id).where(cluster_table.c.id == cluster.id).with_for_update())


def _render(target_arn: str, name: str, value: str | None) -> dict[str, Any]:
    return {"name": name, "value": value, "targetType": CONTAINER_INSTANCE, "targetId": target_arn}


def _scope(ctx: RequestContext, cluster: Row[Any]) -> list[Any]:
    return [
        attribute_table.c.account_id == ctx.account_id,
        attribute_table.c.region == ctx.region,
        attribute_table.c.cluster_name == cluster.name,
    ]


def _is_custom(name: str) -> bool:
    return not name.startswith(_BUILT_IN_PREFIXES)


def _check_limit(ctx: RequestContext, cluster: Row[Any], target: str, names: Iterable[str]) -> None:
    new = {name for name in names if _is_custom(name)}
    query = select(attribute_table.c.name).where(*_scope(ctx, cluster), attribute_table.c.target_id == target)
    existing = set(ctx.conn.execute(query).scalars())
    if len({name for name in existing if _is_custom(name)} | new) > MAX_CUSTOM_PER_TARGET:
        raise AttributeLimitExceededException(
            f"You can apply up to {MAX_CUSTOM_PER_TARGET} custom attributes to {target}."
        )


def _upsert(ctx: RequestContext, cluster: Row[Any], target: str, name: str, value: str | None) -> None:
    dialect = postgresql if ctx.conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(attribute_table).values(
        account_id=ctx.account_id,
        region=ctx.region,
        cluster_name=cluster.name,
        target_type=CONTAINER_INSTANCE,
        target_id=target,
        name=name,
        value=value,
    )
    ctx.conn.execute(
        statement.on_conflict_do_update(
            index_elements=["account_id", "region", "cluster_name", "target_id", "name"],
            set_={"value": value},
        )
    )


def put_attributes(
    ctx: RequestContext, *, attributes: list[dict[str, Any]], cluster: str | None = None
) -> dict[str, Any]:
    """Create or update attributes; an existing name on the target gets the new value."""
    _check_count(attributes)
    row = clusters.lookup(ctx, cluster)
    resolved: list[tuple[str, str, str | None]] = []
    for attribute in attributes:
        _check_attribute(attribute["name"], attribute.get("value"))
        target = find_target(ctx, row, _target_arn(ctx, row, attribute))
        resolved.append((target, attribute["name"], attribute.get("value")))
    # Before the cluster row's lock: instance rows first, cluster row last (placement_cache).
    placement_cache.changed_targets(ctx, row.name, (target for target, _, _ in resolved))
    _lock(ctx, row)
    for target in dict.fromkeys(target for target, _, _ in resolved):
        _check_limit(ctx, row, target, (name for t, name, _ in resolved if t == target))
    for target, name, value in resolved:
        _upsert(ctx, row, target, name, value)
    return {"attributes": [_render(target, name, value) for target, name, value in resolved]}


def delete_attributes(
    ctx: RequestContext, *, attributes: list[dict[str, Any]], cluster: str | None = None
) -> dict[str, Any]:
    """Delete attributes by target and name; returns those that existed, as they were."""
    _check_count(attributes)
    row = clusters.lookup(ctx, cluster)
    targets = []
    for attribute in attributes:
        # The value plays no part in a delete: ECS asks callers to leave it out.
        _check_attribute(attribute["name"], None)
        target = find_target(ctx, row, _target_arn(ctx, row, attribute))
        targets.append((target, attribute["name"]))
    placement_cache.changed_targets(ctx, row.name, (target for target, _ in targets))
    deleted = []
    for target, name in targets:
        statement = (
            delete(attribute_table)
            .where(
                *_scope(ctx, row),
                attribute_table.c.target_id == target,
                attribute_table.c.name == name,
            )
            .returning(attribute_table.c.value)
        )
        for (value,) in ctx.conn.execute(statement):
            deleted.append(_render(target, name, value))
    return {"attributes": deleted}


@functools.cache
def _listed(by_name: bool, by_value: bool) -> PagedQuery:
    """ListAttributes' page statements for the filters given, built once."""
    columns = attribute_table.c
    query = select(columns.target_id, columns.name, columns.value).where(
        columns.account_id == bindparam("account"),
        columns.region == bindparam("region"),
        columns.cluster_name == bindparam("cluster"),
        columns.target_type == bindparam("target_type"),
    )
    if by_name:
        query = query.where(columns.name == bindparam("name"))
    if by_value:
        query = query.where(columns.value == bindparam("value"))
    # (name, target) is unique in a cluster and indexed: each page is one range scan.
    return PagedQuery(query, [columns.name, columns.target_id])


def list_attributes(
    ctx: RequestContext,
    *,
    target_type: str,
    cluster: str | None = None,
    attribute_name: str | None = None,
    attribute_value: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    """The cluster's attributes of one target type, by name then target, keyset-paged."""
    if attribute_value is not None and attribute_name is None:
        raise InvalidParameterException("attributeValue can only be used with attributeName.")
    page_limit(max_results)
    row = clusters.lookup(ctx, cluster, documents=False)
    scope = (
        "ListAttributes",
        ctx.account_id,
        ctx.region,
        row.name,
        target_type,
        attribute_name,
        attribute_value,
    )
    params = {
        "account": ctx.account_id,
        "region": ctx.region,
        "cluster": row.name,
        "target_type": target_type,
        "name": attribute_name,
        "value": attribute_value,
    }
    return list_page(
        ctx,
        member="attributes",
        query=_listed(attribute_name is not None, attribute_value is not None),
        params=params,
        scope=scope,
        next_token=next_token,
        max_results=max_results,
        item=lambda found: _render(found.target_id, found.name, found.value),
    )
