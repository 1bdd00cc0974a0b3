"""Container instances: RegisterContainerInstance, DeregisterContainerInstance,
DescribeContainerInstances, ListContainerInstances, UpdateContainerInstancesState,
UpdateContainerAgent, DiscoverPollEndpoint.

An instance's free capacity is its registered resources minus what its tasks hold; the
``used_*`` columns change only together with ``version`` (see ``ecs.task_placement``), so
placements committed concurrently can never overcommit it.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
from typing import Any

from sqlalchemy import JSON, Row, Select, Text, bindparam, cast, delete, func, insert, select, update

from dockyard.agent.version import AGENT_VERSION
from dockyard.agent_channel import agent_update
from dockyard.caching import BoundedCache
from dockyard.context import RequestContext
from dockyard.ecs import account_settings, arns, clusters, described, task_states
from dockyard.ecs.tagging import check_tags
from dockyard.errors import (
    ClientException,
    InvalidParameterException,
    MissingVersionException,
    NoUpdateAvailableException,
    UpdateInProgressException,
)
from dockyard.iot import fleet
from dockyard.protocol import read_cache
from dockyard.store import direct
from dockyard.store.expressions import in_params, in_values, one_of
from dockyard.store.pagination import PagedQuery, fetch_page, page_limit
from dockyard.store.schema import attributes, tasks
from dockyard.store.schema import container_instances as instances_table

# An agent that has said nothing for this long is disconnected (it heartbeats every 10 s).
AGENT_TIMEOUT_SECONDS = 30.0
# An agent silent this long is lost with its host: services replace the tasks it ran.
INSTANCE_LOST_SECONDS = float(os.environ.get("DOCKYARD_INSTANCE_LOST_SECONDS", 300))
# When the instance's agent was last in touch: its last sign of life, or when it disconnected.
LAST_CONTACT = func.coalesce(instances_table.c.last_seen_at, instances_table.c.disconnected_at)
LATEST_AGENT_VERSION = AGENT_VERSION  # what this control plane offers (agent_channel.agent_update)


def agent_connected(row: Row[Any], now: float) -> bool:
    return row.last_seen_at is not None and now - row.last_seen_at <= AGENT_TIMEOUT_SECONDS


def _identity(document: str | None) -> dict[str, Any]:
    if not document:
        return {}
    try:
        parsed = json.loads(document)
    except (ValueError, RecursionError):
        raise InvalidParameterException("instanceIdentityDocument is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise InvalidParameterException("instanceIdentityDocument must be a JSON object.")
    return parsed


def _resources(given: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The registered resources by name, with ECS's defaults for what is missing."""
    found: dict[str, Any] = {"CPU": 0, "MEMORY": 0, "PORTS": [], "PORTS_UDP": [], "GPU": []}
    for resource in given or []:
        name = resource.get("name")
        if name in ("CPU", "MEMORY"):
            value = resource.get("integerValue", resource.get("longValue", resource.get("doubleValue", 0)))
            if not isinstance(value, (int, float)) or not 0 <= value <= _MAX_RESOURCE:
                raise InvalidParameterException(f"{name} must be an integer from 0 to {_MAX_RESOURCE}.")
            found[name] = int(value)
        elif name in ("PORTS", "PORTS_UDP", "GPU"):
            found[name] = [str(item) for item in resource.get("stringSetValue", [])]
    for name in ("PORTS", "PORTS_UDP"):
        if not all(
            len(port) <= 5 and port.isascii() and port.isdigit() and int(port) <= 65535
            for port in found[name]
        ):
            raise InvalidParameterException(f"{name} must hold port numbers from 0 to 65535.")
    return found


_MAX_RESOURCE = 2**31 - 1  # the store's 32-bit columns, and ECS's Integer


def _integer(name: str, value: int) -> dict[str, Any]:
    return {"name": name, "type": "INTEGER", "doubleValue": 0.0, "longValue": 0, "integerValue": value}


def _string_set(name: str, values: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "type": "STRINGSET",
        "doubleValue": 0.0,
        "longValue": 0,
        "integerValue": 0,
        "stringSetValue": values,
    }


def _ports(entries: list[str], protocol: str) -> list[str]:
    prefix = protocol + ":"
    return sorted({entry.removeprefix(prefix) for entry in entries if entry.startswith(prefix)}, key=int)


def _resource_list(cpu: int, memory: int, ports: list[str], gpus: list[str]) -> list[dict[str, Any]]:
    resources = [
        _integer("CPU", cpu),
        _integer("MEMORY", memory),
        _string_set("PORTS", _ports(ports, "tcp")),
        _string_set("PORTS_UDP", _ports(ports, "udp")),
    ]
    if gpus:
        resources.append(_string_set("GPU", gpus))
    return resources


# Built once per number of instances described: building a statement (and its cache key)
# costs SQLAlchemy more than SQLite takes to run it.
@functools.lru_cache(maxsize=128)
def _task_counts_statement(count: int) -> Select[Any]:
    return (
        select(tasks.c.container_instance_id, tasks.c.last_status, func.count())
        .where(
            in_params(tasks.c.container_instance_id, "id", count),
            one_of(tasks.c.last_status, task_states.LIVE),
        )
        .group_by(tasks.c.container_instance_id, tasks.c.last_status)
    )


@functools.lru_cache(maxsize=128)
def _attributes_statement(instances: int, clusters: int) -> Select[Any]:
    return (
        select(attributes.c.target_id, attributes.c.name, attributes.c.value)
        # The cluster keeps the lookup within the (cluster, target) index, not all the account's.
        .where(
            attributes.c.account_id == bindparam("account"),
            attributes.c.region == bindparam("region"),
            in_params(attributes.c.cluster_name, "cluster", clusters),
            in_params(attributes.c.target_id, "target", instances),
        )
        .order_by(attributes.c.target_id, attributes.c.name)
    )


def _task_counts(ctx: RequestContext, ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {i: {"running": 0, "pending": 0} for i in ids}
    if not ids:
        return counts
    statement = _task_counts_statement(len(ids))
    for instance_id, status, count in direct.fetch(ctx.conn, statement, in_values("id", ids)):
        key = "pending" if status in task_states.PENDING else "running" if status == "RUNNING" else None
        if key:
            counts[instance_id][key] += count
    return counts


def instance_attributes(
    ctx: RequestContext, arns_: list[str], cluster_names: set[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every attribute (built-in and custom) of each instance ARN (of these clusters)."""
    found: dict[str, list[dict[str, Any]]] = {arn: [] for arn in arns_}
    if not arns_:
        return found
    targets = list(found)
    statement = _attributes_statement(len(targets), len(cluster_names))
    values = {
        "account": ctx.account_id,
        "region": ctx.region,
        **in_values("cluster", sorted(cluster_names)),
        **in_values("target", targets),
    }
    for target, name, value in direct.fetch(ctx.conn, statement, values):
        found[target].append({"name": name, "value": value} if value is not None else {"name": name})
    return found


def render_many(
    ctx: RequestContext, rows: list[Row[Any]], include: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """The ContainerInstance shapes of ``rows`` (two queries for all of them)."""
    statics = [_static(*(getattr(row, column.name) for column in _STATIC)) for row in rows]
    return _rendered(ctx, rows, statics, include)


def _static(
    arn: str,
    ec2_instance_id: str,
    version: int,
    version_info: dict[str, Any],
    total_cpu: int,
    used_cpu: int,
    total_memory: int,
    used_memory: int,
    reserved_ports: list[str],
    used_ports: list[str],
    total_gpus: list[str],
    used_gpus: list[str],
    status: str,
    status_reason: str | None,
    agent_update_status: str | None,
    registered_at: float,
) -> dict[str, Any]:
    # What an instance's shape takes from its row alone (the values of _STATIC, in order).
    instance: dict[str, Any] = {
        "containerInstanceArn": arn,
        "ec2InstanceId": ec2_instance_id,
        "version": version,
        "versionInfo": version_info,
        "remainingResources": _resource_list(
            total_cpu - used_cpu,
            total_memory - used_memory,
            sorted(set(reserved_ports) | set(used_ports)),
            [gpu for gpu in total_gpus if gpu not in set(used_gpus)],
        ),
        "registeredResources": _resource_list(total_cpu, total_memory, reserved_ports, total_gpus),
        "status": status,
        "registeredAt": registered_at,
        "attachments": [],
    }
    if status_reason:
        instance["statusReason"] = status_reason
    if agent_update_status:
        instance["agentUpdateStatus"] = agent_update_status
    return instance


def _rendered(
    ctx: RequestContext, rows: list[Row[Any]], statics: list[dict[str, Any]], include: frozenset[str]
) -> list[dict[str, Any]]:
    # Each row's static part (shared, never changed here) with what its row does not hold.
    counts = _task_counts(ctx, [row.id for row in rows])
    attrs = instance_attributes(ctx, [row.arn for row in rows], {row.cluster_name for row in rows})
    rendered = []
    for row, static in zip(rows, statics, strict=True):
        connected = agent_connected(row, ctx.now)
        if connected:  # until its agent has been silent too long
            read_cache.holds_until(row.last_seen_at + AGENT_TIMEOUT_SECONDS)
        instance = {
            **static,
            "agentConnected": connected,
            "runningTasksCount": counts[row.id]["running"],
            "pendingTasksCount": counts[row.id]["pending"],
            "attributes": attrs[row.arn],
        }
        if "TAGS" in include:
            instance["tags"] = row.tags
        if "CONTAINER_INSTANCE_HEALTH" in include:
            instance["healthStatus"] = {"overallStatus": "OK" if connected else "IMPAIRED", "details": []}
        rendered.append(instance)
    return rendered


def _described(ctx: RequestContext, rows: list[Row[Any]], include: frozenset[str]) -> list[dict[str, Any]]:
    # DescribeContainerInstances: the static parts from the render cache, keyed by the stored
    # values they are rendered from (documents as their text), decoded only on a miss.
    statics = []
    for row in rows:
        stored = tuple(row[_LIVE_COUNT:_STATIC_END])
        key = (ctx.account_id, ctx.region, stored)
        static = _STATIC_RENDERS.find(key)
        if static is None:
            static = _decoded(stored)
            _STATIC_RENDERS.keep(key, static)
        statics.append(static)
    return _rendered(ctx, rows, statics, include)


def _decoded(stored: tuple[Any, ...]) -> dict[str, Any]:
    return _static(*(json.loads(value) if i in _DOCUMENT_AT else value for i, value in enumerate(stored)))


def find(ctx: RequestContext, cluster: Row[Any], identifier: str) -> Row[Any] | None:
    """The instance of ``cluster`` named by its id or ARN, whatever its status."""
    instance_id = arns.named_id(ctx, identifier, "container-instance")
    if not instance_id:
        return None
    scope = {"account": ctx.account_id, "region": ctx.region, "cluster": cluster.name, "id": instance_id}
    return direct.fetch(ctx.conn, _INSTANCE_BY_ID, scope).first()


# Built once: agents' state reports and DescribeTasks/StopTask look one up on every call.
_INSTANCE_BY_ID = select(instances_table).where(
    instances_table.c.account_id == bindparam("account"),
    instances_table.c.region == bindparam("region"),
    instances_table.c.cluster_name == bindparam("cluster"),
    instances_table.c.instance_id == bindparam("id"),
)


_c = instances_table.c
# What _static renders, in its parameters' order.
_STATIC = (
    _c.arn, _c.ec2_instance_id, _c.version, _c.version_info, _c.total_cpu, _c.used_cpu,
    _c.total_memory, _c.used_memory, _c.reserved_ports, _c.used_ports, _c.total_gpus, _c.used_gpus,
    _c.status, _c.status_reason, _c.agent_update_status, _c.registered_at,
)  # fmt: skip
_DOCUMENT_AT = frozenset(i for i, column in enumerate(_STATIC) if isinstance(column.type, JSON))
# What DescribeContainerInstances reads of a row: what _rendered and find_many take from it,
# then _STATIC with its documents as their stored text (the render cache's key). The
# registration's own documents (identity, registered resources) are not read.
_LIVE = (_c.id, _c.instance_id, _c.cluster_name, _c.last_seen_at)
_LIVE_COUNT = len(_LIVE)
_STATIC_END = _LIVE_COUNT + len(_STATIC)
_DESCRIBED = (
    *_LIVE,
    *(
        cast(column, Text).label(column.name) if i in _DOCUMENT_AT else column
        for i, column in enumerate(_STATIC)
    ),
)
# A few KiB each: 2,048 instances' renders stay within a few MiB per process.
_STATIC_RENDERS = BoundedCache(2048)


@functools.lru_cache(maxsize=256)
def _instances_by_ids(count: int, tags: bool = False) -> Select[Any]:
    # Built once per number of instances named: DescribeContainerInstances reads them at once.
    return select(*_DESCRIBED, *((_c.tags,) if tags else ())).where(
        instances_table.c.account_id == bindparam("account"),
        instances_table.c.region == bindparam("region"),
        instances_table.c.cluster_name == bindparam("cluster"),
        in_params(instances_table.c.instance_id, "id", count),
    )


def lookup(ctx: RequestContext, cluster: Row[Any], identifier: str) -> Row[Any]:
    """Like ``find``, but a missing or deregistered instance is an error."""
    row = find(ctx, cluster, identifier)
    if row is None or row.status == "INACTIVE":
        raise InvalidParameterException(f"The referenced container instance {identifier} was not found.")
    return row


def _wake_agent(ctx: RequestContext, instance_id: int) -> None:
    """Its desired state moved: its agent's connection in this process reads it again once
    this commits (the agent channel's hub finds the changes made by other processes)."""
    from dockyard.ecs.task_lifecycle import wake_agents  # it imports placement_cache, which imports this

    wake_agents(ctx, [instance_id])


def _placement_changed(ctx: RequestContext, cluster: Row[Any], ids: list[int]) -> None:
    from dockyard.ecs import placement_cache  # it reads this module's constants

    placement_cache.changed(ctx, cluster.name, ids)
    _services_look_again(ctx, cluster)


def _services_look_again(ctx: RequestContext, cluster: Row[Any]) -> None:
    from dockyard.ecs.services import wake

    wake.cluster_changed(ctx, cluster.name)  # services place, drain and run daemons on instances


def _replace_builtin_attributes(
    ctx: RequestContext, cluster: Row[Any], arn: str, given: list[dict[str, Any]], *, replacing: bool = True
) -> None:
    # Attributes that come with registration replace the previous registration's; custom
    # ones (PutAttributes) stay. A new instance has none to replace.
    names = {item["name"] for item in given}
    if names and replacing:
        ctx.conn.execute(
            delete(attributes).where(
                attributes.c.account_id == ctx.account_id,
                attributes.c.region == ctx.region,
                attributes.c.cluster_name == cluster.name,
                attributes.c.target_id == arn,
                attributes.c.name.in_(names),
            )
        )
    if names:
        ctx.conn.execute(
            insert(attributes),
            [
                {
                    "account_id": ctx.account_id,
                    "region": ctx.region,
                    "cluster_name": cluster.name,
                    "target_type": "container-instance",
                    "target_id": arn,
                    "name": item["name"],
                    "value": item.get("value"),
                }
                for item in given
            ],
        )


def _registration_attributes(
    identity: dict[str, Any], given: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    derived = {"ecs.os-type": "linux"}
    for name, key in (
        ("ecs.instance-type", "instanceType"),
        ("ecs.availability-zone", "availabilityZone"),
        ("ecs.ami-id", "imageId"),
    ):
        if identity.get(key):
            derived[name] = str(identity[key])
    merged: dict[str, dict[str, Any]] = {
        name: {"name": name, "value": value} for name, value in derived.items()
    }
    for item in given or []:
        if not item.get("name"):
            raise InvalidParameterException("Every attribute needs a name.")
        merged[item["name"]] = {"name": item["name"], "value": item.get("value")}
    return list(merged.values())


def register_container_instance(
    ctx: RequestContext,
    *,
    cluster: str | None = None,
    instance_identity_document: str | None = None,
    instance_identity_document_signature: str | None = None,
    total_resources: list[dict[str, Any]] | None = None,
    version_info: dict[str, Any] | None = None,
    container_instance_arn: str | None = None,
    attributes: list[dict[str, Any]] | None = None,
    platform_devices: list[dict[str, Any]] | None = None,
    tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster)
    identity = _identity(instance_identity_document)
    resources = _resources(total_resources)
    gpus = resources["GPU"] or [d["id"] for d in platform_devices or [] if d.get("type") == "GPU"]
    values = {
        "status": "ACTIVE",
        "status_reason": None,
        "version_info": version_info or {},
        "registered_resources": total_resources or [],
        "identity_document": identity or None,
        "total_cpu": resources["CPU"],
        "total_memory": resources["MEMORY"],
        "total_gpus": gpus,
        "reserved_ports": [f"tcp:{p}" for p in resources["PORTS"]]
        + [f"udp:{p}" for p in resources["PORTS_UDP"]],
    }
    existing = None
    if container_instance_arn:
        existing = find(ctx, cluster_row, container_instance_arn)
        if existing is None:
            raise ClientException(
                f"The referenced container instance {container_instance_arn} was not found."
            )
        if existing.status == "INACTIVE":
            raise ClientException(f"The container instance {container_instance_arn} is deregistered.")
    elif identity.get("instanceId"):
        existing = ctx.conn.execute(
            select(instances_table).where(
                instances_table.c.account_id == ctx.account_id,
                instances_table.c.region == ctx.region,
                instances_table.c.cluster_name == cluster_row.name,
                instances_table.c.ec2_instance_id == str(identity["instanceId"]),
                instances_table.c.status != "INACTIVE",
            )
        ).first()
    if existing is not None:
        # Re-registration (an agent restart): the same instance, its tasks and their holds kept.
        reported = str((version_info or {}).get("agentVersion", ""))
        ctx.conn.execute(
            update(instances_table)
            .where(instances_table.c.id == existing.id)
            .values(
                version=existing.version + 1,
                desired_version=existing.desired_version + 1,
                agent_update_status=agent_update.completed(existing, reported),
                **values,
            )
        )
        _wake_agent(ctx, existing.id)
        arn = existing.arn
        if tags:
            ctx.conn.execute(
                update(instances_table)
                .where(instances_table.c.id == existing.id)
                .values(tags=check_tags(tags))
            )
    else:
        instance_id = secrets.token_hex(16)
        long_form = account_settings.long_arn_format(ctx, "containerInstanceLongArnFormat")
        resource = (
            f"container-instance/{cluster_row.name}/{instance_id}"
            if long_form
            else f"container-instance/{instance_id}"
        )
        arn = arns.arn(ctx, resource)
        ec2_id = str(identity.get("instanceId") or "i-" + secrets.token_hex(9)[:17])
        ctx.conn.execute(
            insert(instances_table).values(
                account_id=ctx.account_id,
                region=ctx.region,
                cluster_name=cluster_row.name,
                instance_id=instance_id,
                arn=arn,
                ec2_instance_id=ec2_id,
                external=ec2_id.startswith("mi-"),
                used_cpu=0,
                used_memory=0,
                used_ports=[],
                used_gpus=[],
                version=1,
                desired_version=1,
                tags=check_tags(tags),
                registered_at=ctx.now,
                last_seen_at=None,  # as in ECS, only the agent's connection says it is alive
                agent_update_status=None,
                **values,
            )
        )
    _replace_builtin_attributes(
        ctx, cluster_row, arn, _registration_attributes(identity, attributes), replacing=existing is not None
    )
    row = find(ctx, cluster_row, arn)
    assert row is not None
    _placement_changed(ctx, cluster_row, [row.id])
    fleet.instance_registered(ctx, cluster_row.name, row)  # the instance is an IoT thing too
    return {"containerInstance": render_many(ctx, [row], frozenset({"TAGS"}))[0]}


def deregister_container_instance(
    ctx: RequestContext, *, container_instance: str, cluster: str | None = None, force: bool | None = None
) -> dict[str, Any]:
    from dockyard.ecs import instance_books

    cluster_row = clusters.lookup(ctx, cluster)
    found = lookup(ctx, cluster_row, container_instance)
    row = instance_books.lock(ctx, [found.id])[found.id]
    live = ctx.conn.execute(
        select(tasks.c.id).where(
            tasks.c.container_instance_id == row.id, one_of(tasks.c.last_status, task_states.LIVE)
        )
    ).all()
    if live and not force:
        raise InvalidParameterException("Found running tasks on the instance.")
    if live:
        from dockyard.ecs import task_lifecycle

        # ECS orphans them; Dockyard also stops them, so no container outlives its instance.
        task_lifecycle.abandon_tasks(ctx, [task.id for task in live], "Container instance deregistered")
    # A deregistered instance's attributes go with it.
    ctx.conn.execute(
        delete(attributes).where(
            attributes.c.account_id == ctx.account_id,
            attributes.c.region == ctx.region,
            attributes.c.cluster_name == cluster_row.name,  # on the unique index, not a scan
            attributes.c.target_id == row.arn,
        )
    )
    instance_books.retire(ctx, cluster_row.name, row.id)
    _wake_agent(ctx, row.id)  # its connection closes
    fleet.instance_deregistered(ctx, row)
    _services_look_again(ctx, cluster_row)
    refreshed = find(ctx, cluster_row, row.arn)
    assert refreshed is not None
    return {"containerInstance": render_many(ctx, [refreshed])[0]}


def describe_container_instances(
    ctx: RequestContext,
    *,
    container_instances: list[str],
    cluster: str | None = None,
    include: list[str] | None = None,
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster, documents=False)
    if not container_instances:
        raise InvalidParameterException("Container instance cannot be empty.")
    if len(container_instances) > 100:
        raise InvalidParameterException("At most 100 container instances can be described at once.")
    rows, failures = [], []
    scope = {"account": ctx.account_id, "region": ctx.region, "cluster": cluster_row.name}
    wanted = frozenset(include or ())
    found = described.find_many(
        ctx,
        container_instances,
        "container-instance",
        functools.partial(_instances_by_ids, tags="TAGS" in wanted),
        scope,
        lambda row: str(row.instance_id),
    )
    for identifier in container_instances:
        row = found.get(identifier)
        if row is None:
            missing = (
                identifier
                if arns.is_arn(identifier)
                else arns.arn(ctx, f"container-instance/{cluster_row.name}/{identifier}")
            )
            failures.append({"arn": missing, "reason": "MISSING"})
        else:
            rows.append(row)
    return {"containerInstances": _described(ctx, rows, wanted), "failures": failures}


def list_container_instances(
    ctx: RequestContext,
    *,
    cluster: str | None = None,
    filter: str | None = None,  # noqa: A002
    next_token: str | None = None,
    max_results: int | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster, documents=False)
    limit = page_limit(max_results)
    scope = ("ListContainerInstances", ctx.account_id, ctx.region, cluster_row.name, filter, status)
    after = ctx.tokens.open(next_token, scope) if next_token else None
    if filter:
        from dockyard.ecs import instance_filter

        query = select(instances_table).where(
            instances_table.c.account_id == ctx.account_id,
            instances_table.c.region == ctx.region,
            instances_table.c.cluster_name == cluster_row.name,
        )
        query = (
            query.where(instances_table.c.status == status)
            if status
            else query.where(instances_table.c.status != "INACTIVE")
        )
        arns_, last = instance_filter.filtered_page(ctx, cluster_row, query, filter, limit, after)
    else:
        params = {
            "account": ctx.account_id,
            "region": ctx.region,
            "cluster": cluster_row.name,
            "status": status,
        }
        paged = _LISTED_WITH_STATUS if status else _LISTED_LIVE
        rows, last = fetch_page(ctx.conn, paged, limit=limit, after=after, params=params)
        arns_ = [row.arn for row in rows]
    result: dict[str, Any] = {"containerInstanceArns": arns_}
    if last is not None:
        result["nextToken"] = ctx.tokens.seal(last, scope)
    return result


_LISTED = select(instances_table.c.id, instances_table.c.arn).where(
    instances_table.c.account_id == bindparam("account"),
    instances_table.c.region == bindparam("region"),
    instances_table.c.cluster_name == bindparam("cluster"),
)
_LISTED_WITH_STATUS = PagedQuery(
    _LISTED.where(instances_table.c.status == bindparam("status")), [instances_table.c.id]
)
_LISTED_LIVE = PagedQuery(_LISTED.where(instances_table.c.status != "INACTIVE"), [instances_table.c.id])


def update_container_instances_state(
    ctx: RequestContext, *, container_instances: list[str], status: str, cluster: str | None = None
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster)
    if status not in ("ACTIVE", "DRAINING"):
        raise InvalidParameterException("Container instances can only be set to ACTIVE or DRAINING.")
    found, failures = {}, []
    for identifier in container_instances:
        row = find(ctx, cluster_row, identifier)
        if row is None or row.status == "INACTIVE":
            failures.append({"arn": row.arn if row else identifier, "reason": "MISSING"})
        else:
            found[row.id] = row
    from dockyard.ecs import instance_books

    if instance_books.set_status(ctx, cluster_row.name, found, status):
        _services_look_again(ctx, cluster_row)
    rows = [find(ctx, cluster_row, row.arn) for row in found.values()]
    return {
        "containerInstances": render_many(ctx, [row for row in rows if row is not None]),
        "failures": failures,
    }


def update_container_agent(
    ctx: RequestContext, *, container_instance: str, cluster: str | None = None
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster)
    row = lookup(ctx, cluster_row, container_instance)
    current = str(row.version_info.get("agentVersion", ""))
    if row.agent_update_status in agent_update.IN_FLIGHT:
        raise UpdateInProgressException("An agent update is already in progress for this instance.")
    if not current:
        raise MissingVersionException("The container instance did not report its agent version.")
    if _version_key(current) >= _version_key(LATEST_AGENT_VERSION):
        raise NoUpdateAvailableException("There is no update available for your container agent.")
    ctx.conn.execute(
        update(instances_table)
        .where(instances_table.c.id == row.id)
        .values(
            agent_update_status="PENDING", version=row.version + 1, desired_version=row.desired_version + 1
        )
    )
    _wake_agent(ctx, row.id)  # the update goes down in its next frame
    _placement_changed(ctx, cluster_row, [row.id])
    refreshed = find(ctx, cluster_row, row.arn)
    assert refreshed is not None
    return {"containerInstance": render_many(ctx, [refreshed])[0]}


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def discover_poll_endpoint(
    ctx: RequestContext,
    *,
    container_instance: str | None = None,
    cluster: str | None = None,
) -> dict[str, Any]:
    endpoint = ctx.server.public_url.rstrip("/") + "/"
    return {
        "endpoint": endpoint,
        "telemetryEndpoint": endpoint,
        "serviceConnectEndpoint": endpoint,
    }
