"""Task definitions: RegisterTaskDefinition, DeregisterTaskDefinition, DeleteTaskDefinitions,
DescribeTaskDefinition, ListTaskDefinitions, ListTaskDefinitionFamilies; and ``resolve`` /
``render`` for the actions that run tasks from them.

A revision is immutable: its document is normalized once (task_definition_rules) and stored
as JSON. Revision numbers come from the family's row, bumped by one upsert that locks it, so
concurrent registrations in a family queue there and never reuse a number, even after a
delete; the unique (family, revision) constraint backs that up. Statuses only move forward:
ACTIVE -> INACTIVE (deregistered) -> DELETE_IN_PROGRESS (deleted).
"""

from __future__ import annotations

import functools
import re
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from dockyard.context import RequestContext
from dockyard.ecs import arns
from dockyard.ecs.listing import list_page
from dockyard.ecs.tagging import check_tags
from dockyard.ecs.task_definition_rules import NAME, normalize
from dockyard.errors import ApiError, ClientException, InvalidParameterException
from dockyard.store import direct
from dockyard.store.pagination import PagedQuery, page_limit
from dockyard.store.schema import task_definition_families as families
from dockyard.store.schema import task_definitions as revisions

MAX_DELETE = 10
_REVISION = re.compile(r"^[0-9]{1,10}$")
_MAX_REVISION = 2**31 - 1  # the column is a 32-bit integer
_NOT_FOUND = "The specified task definition does not exist."
_STILL_ACTIVE = (
    "The specified task definition is still in ACTIVE status. Please deregister the target and try again."
)


def _arn(ctx: RequestContext, family: str, revision: int) -> str:
    return arns.arn(ctx, f"task-definition/{family}:{revision}")


def parse_identifier(ctx: RequestContext, identifier: str) -> tuple[str, int | None] | None:
    """(family, revision) named by ``family``, ``family:revision`` or an ARN (revision None
    when not given); None when it can name nothing of the caller's, e.g. another account's ARN.
    """
    resource: str | None = identifier
    if arns.is_arn(identifier):
        resource = arns.own_resource_id(ctx, identifier, "task-definition")
    if resource is None:
        return None
    family, sep, revision = resource.partition(":")
    if not NAME.match(family):
        return None
    if not sep:
        return family, None
    if not _REVISION.match(revision) or not 1 <= int(revision) <= _MAX_REVISION:
        raise ClientException(f"Invalid revision number. Number: {revision}")
    return family, int(revision)


def find(ctx: RequestContext, identifier: str, *, statuses: tuple[str, ...] | None = None) -> Row[Any] | None:
    """The caller's task definition named by ``identifier``, or None.

    A bare family names its latest ACTIVE revision; ``family:revision`` and ARNs name that
    revision whatever its status, unless ``statuses`` narrows them.
    """
    parsed = parse_identifier(ctx, identifier)
    if parsed is None:
        return None
    family, revision = parsed
    scope = {"account": ctx.account_id, "region": ctx.region, "family": family}
    if revision is None:
        return direct.fetch(ctx.conn, _LATEST, scope).first()
    if statuses is None:
        return direct.fetch(ctx.conn, _BY_REVISION, {**scope, "revision": revision}).first()
    return direct.fetch(
        ctx.conn, _BY_REVISION_IN, {**scope, "revision": revision, "statuses": statuses}
    ).first()


# Built once: RunTask looks a revision up on every call, and building the statement (and its
# cache key) cost SQLAlchemy more than SQLite takes to run it.
_IN_FAMILY = select(revisions).where(
    revisions.c.account_id == bindparam("account"),
    revisions.c.region == bindparam("region"),
    revisions.c.family == bindparam("family"),
)
_LATEST = _IN_FAMILY.where(revisions.c.status == "ACTIVE").order_by(revisions.c.revision.desc()).limit(1)
_BY_REVISION = _IN_FAMILY.where(revisions.c.revision == bindparam("revision"))
_BY_REVISION_IN = _BY_REVISION.where(revisions.c.status.in_(bindparam("statuses", expanding=True)))


def resolve(ctx: RequestContext, identifier: str) -> Row[Any]:
    """The ACTIVE or INACTIVE task definition RunTask and the like name; ClientException if none."""
    row = find(ctx, identifier, statuses=("ACTIVE", "INACTIVE"))
    if row is None:
        raise ClientException("TaskDefinition not found.")
    return row


def render(row: Row[Any] | SimpleNamespace) -> dict[str, Any]:
    """The TaskDefinition shape of a stored revision (its row, or the values just written)."""
    definition = {
        "taskDefinitionArn": row.arn,
        **row.body,
        "family": row.family,
        "revision": row.revision,
        "status": row.status,
        "registeredAt": row.registered_at,
    }
    # Members without a value are left out here, as the wire leaves them out: a result with no
    # None in it is written in one pass (protocol/json_protocol.serialize_result).
    if row.registered_by is not None:
        definition["registeredBy"] = row.registered_by
    if row.deregistered_at is not None:
        definition["deregisteredAt"] = row.deregistered_at
    if row.delete_requested_at is not None:
        definition["deleteRequestedAt"] = row.delete_requested_at
    return definition


def _upsert_revision(dialect: Any) -> Any:
    return (
        dialect.insert(families)
        .values(
            account_id=bindparam("account"),
            region=bindparam("region"),
            family=bindparam("family"),
            latest_revision=1,
            active_revisions=1,
            inactive_revisions=0,
        )
        .on_conflict_do_update(
            index_elements=["account_id", "region", "family"],
            set_={
                "latest_revision": families.c.latest_revision + 1,
                "active_revisions": families.c.active_revisions + 1,
            },
        )
        .returning(families.c.latest_revision)
    )


# Built once, as the lookups above: building them cost more than a registration's SQL.
_NEXT_REVISION = {"postgresql": _upsert_revision(postgresql), "sqlite": _upsert_revision(sqlite)}
_INSERT_REVISION = insert(revisions)


def _next_revision(ctx: RequestContext, family: str) -> int:
    """Bump the family's revision counter; the row stays locked until the request commits."""
    scope = {"account": ctx.account_id, "region": ctx.region, "family": family}
    return int(ctx.conn.execute(_NEXT_REVISION[ctx.conn.dialect.name], scope).scalar_one())


def _count(ctx: RequestContext, family: str, **changes: int) -> None:
    """Move the family's revision counts (active_revisions, inactive_revisions) by ``changes``."""
    ctx.conn.execute(
        update(families)
        .where(
            families.c.account_id == ctx.account_id,
            families.c.region == ctx.region,
            families.c.family == family,
        )
        .values({name: families.c[name] + delta for name, delta in changes.items()})
    )


def register_task_definition(
    ctx: RequestContext,
    *,
    family: str,
    container_definitions: list[dict[str, Any]],
    task_role_arn: str | None = None,
    execution_role_arn: str | None = None,
    network_mode: str | None = None,
    volumes: list[dict[str, Any]] | None = None,
    placement_constraints: list[dict[str, Any]] | None = None,
    requires_compatibilities: list[str] | None = None,
    cpu: str | None = None,
    memory: str | None = None,
    tags: list[dict[str, str]] | None = None,
    pid_mode: str | None = None,
    ipc_mode: str | None = None,
    proxy_configuration: dict[str, Any] | None = None,
    inference_accelerators: list[dict[str, Any]] | None = None,
    ephemeral_storage: dict[str, Any] | None = None,
    runtime_platform: dict[str, Any] | None = None,
    enable_fault_injection: bool | None = None,
    trusted_execution_configuration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Register the next revision of ``family``: the request as given, plus ECS's defaults."""
    request = {
        "family": family,
        "containerDefinitions": container_definitions,
        "taskRoleArn": task_role_arn,
        "executionRoleArn": execution_role_arn,
        "networkMode": network_mode,
        "volumes": volumes,
        "placementConstraints": placement_constraints,
        "requiresCompatibilities": requires_compatibilities,
        "cpu": cpu,
        "memory": memory,
        "pidMode": pid_mode,
        "ipcMode": ipc_mode,
        "proxyConfiguration": proxy_configuration,
        "inferenceAccelerators": inference_accelerators,
        "ephemeralStorage": ephemeral_storage,
        "runtimePlatform": runtime_platform,
        "enableFaultInjection": enable_fault_injection,
        "trustedExecutionConfiguration": trusted_execution_configuration,
    }
    document = normalize(request)
    checked_tags = check_tags(tags)
    assert ctx.identity is not None
    revision = _next_revision(ctx, family)
    stored = {
        "account_id": ctx.account_id,
        "region": ctx.region,
        "family": family,
        "revision": revision,
        "arn": _arn(ctx, family, revision),
        "status": "ACTIVE",
        "body": document,
        "tags": checked_tags,
        "registered_at": ctx.now,
        "registered_by": ctx.identity.principal_arn,
    }
    ctx.conn.execute(_INSERT_REVISION, stored)
    # Rendered from what was written, not read back: reading a 64 KiB document again (and
    # parsing it) was most of the request's time on the event loop.
    row = SimpleNamespace(**stored, deregistered_at=None, delete_requested_at=None)
    result: dict[str, Any] = {"taskDefinition": render(row)}
    if checked_tags:
        result["tags"] = checked_tags
    return result


def deregister_task_definition(ctx: RequestContext, *, task_definition: str) -> dict[str, Any]:
    """Mark a revision INACTIVE; deregistering an INACTIVE one again changes nothing."""
    row = _revision(ctx, task_definition)
    if row.status == "DELETE_IN_PROGRESS":
        raise ClientException(_NOT_FOUND)
    if row.status == "ACTIVE":
        # The status test makes a concurrent deregistration count once.
        changed = ctx.conn.execute(
            update(revisions)
            .where(revisions.c.id == row.id, revisions.c.status == "ACTIVE")
            .values(status="INACTIVE", deregistered_at=ctx.now)
        ).rowcount
        if changed:
            _count(ctx, row.family, active_revisions=-1, inactive_revisions=1)
        row = _revision(ctx, task_definition)
    return {"taskDefinition": render(row)}


def _revision(ctx: RequestContext, identifier: str) -> Row[Any]:
    """The revision ``identifier`` names, which must say which revision it is."""
    parsed = parse_identifier(ctx, identifier)
    if parsed is not None and parsed[1] is None:
        raise ClientException(
            f"'{identifier}' names no revision: use family:revision or the task definition's ARN."
        )
    row = find(ctx, identifier) if parsed is not None else None
    if row is None:
        raise ClientException(_NOT_FOUND)
    return row


def _failure_arn(ctx: RequestContext, identifier: str) -> str:
    """The ARN a failure reports: the full ARN when the identifier can be read as one."""
    try:
        parsed = parse_identifier(ctx, identifier)
    except ApiError:
        parsed = None
    if parsed is None or parsed[1] is None:
        return identifier
    return _arn(ctx, parsed[0], parsed[1])


def delete_task_definitions(ctx: RequestContext, *, task_definitions: list[str]) -> dict[str, Any]:
    """Move INACTIVE revisions to DELETE_IN_PROGRESS; any other one becomes a failure."""
    if not 1 <= len(task_definitions) <= MAX_DELETE:
        raise InvalidParameterException(
            f"taskDefinitions must name between 1 and {MAX_DELETE} task definitions."
        )
    named, failures = [], []
    for identifier in task_definitions:
        try:
            row = _revision(ctx, identifier)
        except ApiError as error:
            failures.append({"arn": _failure_arn(ctx, identifier), "reason": error.message})
            continue
        if row.status == "ACTIVE":
            failures.append({"arn": row.arn, "reason": _STILL_ACTIVE})
        else:
            named.append(row.id)
    # Rows are locked in id order, so two requests naming the same revisions in opposite
    # orders can't deadlock. Family counts stay as they are (a revision being deleted still
    # counts as inactive), so this locks no family row either.
    for row_id in sorted(set(named)):
        ctx.conn.execute(
            update(revisions)
            .where(revisions.c.id == row_id, revisions.c.status == "INACTIVE")
            .values(status="DELETE_IN_PROGRESS", delete_requested_at=ctx.now)
        )
    fresh = select(revisions).where(revisions.c.id.in_(named))
    rows = {row.id: row for row in ctx.conn.execute(fresh)}
    return {"taskDefinitions": [render(rows[row_id]) for row_id in named], "failures": failures}


def describe_task_definition(
    ctx: RequestContext, *, task_definition: str, include: list[str] | None = None
) -> dict[str, Any]:
    row = find(ctx, task_definition)
    if row is None:
        raise ClientException("Unable to describe task definition.")
    result: dict[str, Any] = {"taskDefinition": render(row)}
    if include and "TAGS" in include:
        result["tags"] = row.tags
    return result


def list_task_definitions(
    ctx: RequestContext,
    *,
    family_prefix: str | None = None,
    status: str | None = None,
    sort: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    """Revisions by (family, revision), one index range per page; familyPrefix is a family."""
    family, status, descending = family_prefix or None, status or "ACTIVE", sort == "DESC"
    scope = ("ListTaskDefinitions", ctx.account_id, ctx.region, family, status, descending)
    page_limit(max_results)
    if next_token:
        ctx.tokens.open(next_token, scope)
    if family is not None and not NAME.match(family):
        return {"taskDefinitionArns": []}
    params = {"account": ctx.account_id, "region": ctx.region, "status": status, "family": family}
    return list_page(
        ctx,
        member="taskDefinitionArns",
        query=_REVISIONS_PAGE if family is None else _FAMILY_REVISIONS_PAGE,
        params=params,
        scope=scope,
        next_token=next_token,
        max_results=max_results,
        descending=descending,
    )


_LISTED = select(revisions.c.arn, revisions.c.family, revisions.c.revision).where(
    revisions.c.account_id == bindparam("account"),
    revisions.c.region == bindparam("region"),
    revisions.c.status == bindparam("status"),
)
_REVISIONS_PAGE = PagedQuery(_LISTED, [revisions.c.family, revisions.c.revision])
# Within one family the position is the revision alone: a (family, revision) row comparison
# after "family = ?" would not bound SQLite's index range.
_FAMILY_REVISIONS_PAGE = PagedQuery(
    _LISTED.where(revisions.c.family == bindparam("family")), [revisions.c.revision]
)


@functools.cache
def _families_page(by_prefix: bool, status: str) -> PagedQuery:
    """ListTaskDefinitionFamilies' page statements for the filters given, built once."""
    query = select(families.c.family).where(
        families.c.account_id == bindparam("account"), families.c.region == bindparam("region")
    )
    if by_prefix:
        query = query.where(families.c.family >= bindparam("lower"), families.c.family < bindparam("upper"))
    if status == "ACTIVE":
        query = query.where(families.c.active_revisions > 0)
    elif status == "INACTIVE":
        query = query.where(families.c.active_revisions == 0)
    return PagedQuery(query, [families.c.family])


def list_task_definition_families(
    ctx: RequestContext,
    *,
    family_prefix: str | None = None,
    status: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    """Families by name. ACTIVE: with an ACTIVE revision; INACTIVE: without; ALL (default)."""
    prefix, status = family_prefix or "", status or "ALL"
    scope = ("ListTaskDefinitionFamilies", ctx.account_id, ctx.region, prefix, status)
    page_limit(max_results)
    if next_token:
        ctx.tokens.open(next_token, scope)
    if prefix and not NAME.match(prefix):
        return {"families": []}
    params = {"account": ctx.account_id, "region": ctx.region}
    if prefix:
        # Names sort by code point, so the names starting with "ab" are those in ["ab", "ac").
        params.update(lower=prefix, upper=prefix[:-1] + chr(ord(prefix[-1]) + 1))
    return list_page(
        ctx,
        member="families",
        query=_families_page(bool(prefix), status),
        params=params,
        scope=scope,
        next_token=next_token,
        max_results=max_results,
        item=lambda row: row.family,
    )
