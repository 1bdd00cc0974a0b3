"""Clusters: CreateCluster, DeleteCluster, DescribeClusters, ListClusters, UpdateCluster,
UpdateClusterSettings."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update

from dockyard.context import RequestContext
from dockyard.ecs import account_settings, arns, task_states
from dockyard.ecs.listing import list_page
from dockyard.ecs.tagging import check_tags
from dockyard.errors import (
    ClusterContainsContainerInstancesException,
    ClusterContainsServicesException,
    ClusterContainsTasksException,
    ClusterNotFoundException,
    InvalidParameterException,
)
from dockyard.store import direct
from dockyard.store.expressions import one_of
from dockyard.store.pagination import PagedQuery
from dockyard.store.schema import clusters, container_instances, services, tasks

DEFAULT_CLUSTER = "default"
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")
_STATISTICS = (
    "runningEC2TasksCount",
    "runningFargateTasksCount",
    "pendingEC2TasksCount",
    "pendingFargateTasksCount",
    "runningExternalTasksCount",
    "pendingExternalTasksCount",
    "activeEC2ServiceCount",
    "activeFargateServiceCount",
    "drainingEC2ServiceCount",
    "drainingFargateServiceCount",
    "activeExternalServiceCount",
    "drainingExternalServiceCount",
)


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InvalidParameterException(
            "Cluster name can have up to 255 letters (uppercase and lowercase), numbers, "
            "hyphens, and underscores."
        )


def _settings(ctx: RequestContext, given: list[dict[str, str]] | None) -> list[dict[str, str]]:
    value = account_settings.effective_value(ctx, "containerInsights")
    for setting in given or []:
        if setting.get("name") != "containerInsights":
            raise InvalidParameterException(f"Unknown cluster setting: {setting.get('name')}")
        if setting.get("value") not in account_settings.SETTINGS["containerInsights"][1]:
            raise InvalidParameterException(account_settings.INVALID_VALUE)
        value = setting["value"]
    return [{"name": "containerInsights", "value": value}]


def lookup(
    ctx: RequestContext, identifier: str | None, *, active_only: bool = True, documents: bool = True
) -> Row[Any]:
    """The caller's cluster named by name or ARN (``default`` when omitted). Without
    ``documents``, its id, scope, name, ARN and status only: what the read actions of a
    cluster's contents need (its six JSON documents are not read and decoded)."""
    if not documents:
        return _reference(ctx, identifier or DEFAULT_CLUSTER, active_only)
    found = find(ctx, identifier or DEFAULT_CLUSTER)
    if found is None or (active_only and found.status != "ACTIVE"):
        raise ClusterNotFoundException("Cluster not found.")
    return found


# Built once: DescribeClusters runs these for every cluster it names, and building a statement
# (and its cache key) costs SQLAlchemy more than SQLite takes to run it.
_BY_NAME = select(clusters).where(
    clusters.c.account_id == bindparam("account"),
    clusters.c.region == bindparam("region"),
    clusters.c.name == bindparam("name"),
)


_REFERENCE_COLUMNS = ("id", "account_id", "region", "name", "arn", "status")
_REFERENCE = select(*(clusters.c[name] for name in _REFERENCE_COLUMNS)).where(
    clusters.c.account_id == bindparam("account"),
    clusters.c.region == bindparam("region"),
    clusters.c.name == bindparam("name"),
)


def _reference(ctx: RequestContext, identifier: str, active_only: bool) -> Row[Any]:
    name = arns.own_resource_id(ctx, identifier, "cluster") if arns.is_arn(identifier) else identifier
    found = None
    if name is not None:
        scope = {"account": ctx.account_id, "region": ctx.region, "name": name}
        found = direct.fetch(ctx.conn, _REFERENCE, scope).first()
    if found is None or (active_only and found.status != "ACTIVE"):
        raise ClusterNotFoundException("Cluster not found.")
    return found


def _task_count(statuses: tuple[str, ...]) -> Any:
    return (
        select(func.count())
        .select_from(tasks)
        .where(
            tasks.c.account_id == bindparam("account"),
            tasks.c.region == bindparam("region"),
            tasks.c.cluster_name == bindparam("name"),
            one_of(tasks.c.last_status, statuses),
        )
        .scalar_subquery()
    )


_LIVE_COUNTS = (
    select(func.count())
    .select_from(container_instances)
    .where(
        container_instances.c.account_id == bindparam("account"),
        container_instances.c.region == bindparam("region"),
        container_instances.c.cluster_name == bindparam("name"),
        one_of(container_instances.c.status, ("ACTIVE", "DRAINING")),
    )
    .scalar_subquery()
    .label("live_instances"),
    _task_count(("RUNNING",)).label("live_running"),
    _task_count(task_states.PENDING).label("live_pending"),
    select(func.count())
    .select_from(services)
    .where(
        services.c.account_id == bindparam("account"),
        services.c.region == bindparam("region"),
        services.c.cluster_name == bindparam("name"),
        services.c.status == "ACTIVE",
    )
    .scalar_subquery()
    .label("live_services"),
)
_COUNTS = select(*_LIVE_COUNTS)
# DescribeClusters: the row and its live counts in one statement.
_BY_NAME_COUNTED = select(clusters, *_LIVE_COUNTS).where(
    clusters.c.account_id == bindparam("account"),
    clusters.c.region == bindparam("region"),
    clusters.c.name == bindparam("name"),
)


def find(ctx: RequestContext, identifier: str, *, counted: bool = False) -> Row[Any] | None:
    """The caller's cluster named by name or ARN, whatever its status, or None; ``counted``
    reads its live counts with it (``render`` then needs no second statement)."""
    name: str | None = identifier
    if arns.is_arn(identifier):
        name = arns.own_resource_id(ctx, identifier, "cluster")
    if name is None:
        return None
    statement = _BY_NAME_COUNTED if counted else _BY_NAME
    return direct.fetch(
        ctx.conn, statement, {"account": ctx.account_id, "region": ctx.region, "name": name}
    ).first()


def counts(ctx: RequestContext, row: Row[Any]) -> dict[str, int]:
    """Live counts of a cluster's instances, tasks and services (read with the row by
    ``find(counted=True)``, else one statement)."""
    if "live_instances" in row._fields:
        instances, running, pending = row.live_instances, row.live_running, row.live_pending
        active_services = row.live_services
    else:
        instances, running, pending, active_services = direct.fetch(
            ctx.conn, _COUNTS, {"account": row.account_id, "region": row.region, "name": row.name}
        ).one()
    return {
        "registeredContainerInstancesCount": instances,
        "runningTasksCount": running,
        "pendingTasksCount": pending,
        "activeServicesCount": active_services,
    }


def render(ctx: RequestContext, row: Row[Any], include: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The Cluster shape; ``include`` adds what DescribeClusters' include asks for."""
    cluster: dict[str, Any] = {
        "clusterArn": row.arn,
        "clusterName": row.name,
        "status": row.status,
        **counts(ctx, row),
        "capacityProviders": row.capacity_providers,
        "defaultCapacityProviderStrategy": row.default_capacity_provider_strategy,
    }
    if "SETTINGS" in include:
        cluster["settings"] = row.settings
    if "TAGS" in include:
        cluster["tags"] = row.tags
    if "CONFIGURATIONS" in include and row.configuration is not None:
        cluster["configuration"] = row.configuration
    if "STATISTICS" in include:
        cluster["statistics"] = statistics(ctx, row)
    if "ATTACHMENTS" in include:
        cluster["attachments"] = []
    if row.service_connect_defaults:
        cluster["serviceConnectDefaults"] = row.service_connect_defaults
    return cluster


_TASKS_BY_LAUNCH_TYPE = (
    select(tasks.c.launch_type, tasks.c.last_status, func.count())
    .where(
        tasks.c.account_id == bindparam("account"),
        tasks.c.region == bindparam("region"),
        tasks.c.cluster_name == bindparam("name"),
        one_of(tasks.c.last_status, ("RUNNING", *task_states.PENDING)),
    )
    .group_by(tasks.c.launch_type, tasks.c.last_status)
)
_SERVICES_BY_LAUNCH_TYPE = (
    select(services.c.launch_type, services.c.status, func.count())
    .where(
        services.c.account_id == bindparam("account"),
        services.c.region == bindparam("region"),
        services.c.cluster_name == bindparam("name"),
        one_of(services.c.status, ("ACTIVE", "DRAINING")),
    )
    .group_by(services.c.launch_type, services.c.status)
)
_LAUNCH_TYPE_WORD = {"EC2": "EC2", "FARGATE": "Fargate", "EXTERNAL": "External"}


def statistics(ctx: RequestContext, row: Row[Any]) -> list[dict[str, str]]:
    """DescribeClusters' STATISTICS: running and pending tasks, active and draining services,
    counted per launch type."""
    counted = dict.fromkeys(_STATISTICS, 0)
    scope = {"account": row.account_id, "region": row.region, "name": row.name}
    for launch_type, status, count in ctx.conn.execute(_TASKS_BY_LAUNCH_TYPE, scope):
        word = _LAUNCH_TYPE_WORD.get(launch_type or "EC2", "EC2")
        state = "running" if status == "RUNNING" else "pending"
        counted[f"{state}{word}TasksCount"] += count
    for launch_type, status, count in ctx.conn.execute(_SERVICES_BY_LAUNCH_TYPE, scope):
        word = _LAUNCH_TYPE_WORD.get(launch_type or "EC2", "EC2")
        counted[f"{status.lower()}{word}ServiceCount"] += count
    return [{"name": name, "value": str(value)} for name, value in counted.items()]


_EVERYTHING = frozenset({"SETTINGS", "TAGS", "CONFIGURATIONS"})


def create_cluster(
    ctx: RequestContext,
    *,
    cluster_name: str | None = None,
    tags: list[dict[str, str]] | None = None,
    settings: list[dict[str, str]] | None = None,
    configuration: dict[str, Any] | None = None,
    capacity_providers: list[str] | None = None,
    default_capacity_provider_strategy: list[dict[str, Any]] | None = None,
    service_connect_defaults: dict[str, Any] | None = None,
) -> dict[str, Any]:
    name = cluster_name or DEFAULT_CLUSTER
    _check_name(name)
    existing = find(ctx, name)
    if existing is not None and existing.status == "ACTIVE":
        # CreateCluster is idempotent on the name: the cluster as it already is.
        return {"cluster": render(ctx, existing, _EVERYTHING)}
    values = {
        "status": "ACTIVE",
        "settings": _settings(ctx, settings),
        "configuration": configuration,
        "capacity_providers": capacity_providers or [],
        "default_capacity_provider_strategy": default_capacity_provider_strategy or [],
        "service_connect_defaults": service_connect_defaults,
        "tags": check_tags(tags),
        "created_at": ctx.now,
        "deleted_at": None,
    }
    if existing is not None:
        # A deleted (INACTIVE) cluster of that name comes back to life as a new cluster.
        ctx.conn.execute(update(clusters).where(clusters.c.id == existing.id).values(**values))
    else:
        ctx.conn.execute(
            insert(clusters).values(
                account_id=ctx.account_id,
                region=ctx.region,
                name=name,
                arn=arns.arn(ctx, f"cluster/{name}"),
                **values,
            )
        )
    return {"cluster": render(ctx, lookup(ctx, name), _EVERYTHING)}


def delete_cluster(ctx: RequestContext, *, cluster: str) -> dict[str, Any]:
    row = lookup(ctx, cluster)
    refuse_delete_if_in_use(ctx, row)
    deleted = update(clusters).where(clusters.c.id == row.id).values(status="INACTIVE", deleted_at=ctx.now)
    ctx.conn.execute(deleted)
    return {"cluster": render(ctx, lookup(ctx, cluster, active_only=False), _EVERYTHING)}


def refuse_delete_if_in_use(ctx: RequestContext, row: Row[Any]) -> None:
    """ECS refuses to delete a cluster that still has instances, services or tasks."""
    live = counts(ctx, row)
    if live["registeredContainerInstancesCount"]:
        raise ClusterContainsContainerInstancesException(
            "The Cluster cannot be deleted while Container Instances are active or draining."
        )
    if live["activeServicesCount"]:
        raise ClusterContainsServicesException("The Cluster cannot be deleted while Services are active.")
    if (
        live["runningTasksCount"]
        or live["pendingTasksCount"]
        or ctx.conn.execute(
            select(tasks.c.id)
            .where(
                tasks.c.account_id == row.account_id,
                tasks.c.region == row.region,
                tasks.c.cluster_name == row.name,
                tasks.c.last_status != "STOPPED",
            )
            .limit(1)
        ).first()
    ):
        raise ClusterContainsTasksException("The Cluster cannot be deleted while Tasks are active.")


def describe_clusters(
    ctx: RequestContext, *, clusters: list[str] | None = None, include: list[str] | None = None
) -> dict[str, Any]:
    wanted = frozenset(include or ())
    found, failures = [], []
    for identifier in clusters or [DEFAULT_CLUSTER]:
        row = find(ctx, identifier, counted=True)
        if row is None:
            missing = identifier if arns.is_arn(identifier) else arns.arn(ctx, f"cluster/{identifier}")
            failures.append({"arn": missing, "reason": "MISSING"})
        else:
            found.append(render(ctx, row, wanted))
    return {"clusters": found, "failures": failures}


# ACTIVE and INACTIVE: a deleted cluster stays discoverable, as DeleteCluster's reference says,
# until a cluster of its name is created again or the janitor purges it.
_LISTED_PAGE = PagedQuery(
    select(clusters.c.arn, clusters.c.name).where(
        clusters.c.account_id == bindparam("account"),
        clusters.c.region == bindparam("region"),
    ),
    [clusters.c.name],
)


def list_clusters(
    ctx: RequestContext, *, next_token: str | None = None, max_results: int | None = None
) -> dict[str, Any]:
    return list_page(
        ctx,
        member="clusterArns",
        query=_LISTED_PAGE,
        params={"account": ctx.account_id, "region": ctx.region},
        scope=("ListClusters", ctx.account_id, ctx.region),
        next_token=next_token,
        max_results=max_results,
    )


def update_cluster(
    ctx: RequestContext,
    *,
    cluster: str,
    settings: list[dict[str, str]] | None = None,
    configuration: dict[str, Any] | None = None,
    service_connect_defaults: dict[str, Any] | None = None,
) -> dict[str, Any]:
    row = lookup(ctx, cluster)
    values: dict[str, Any] = {}
    if settings is not None:
        values["settings"] = _settings(ctx, settings) if settings else row.settings
    if configuration is not None:
        values["configuration"] = configuration
    if service_connect_defaults is not None:
        values["service_connect_defaults"] = service_connect_defaults
    if values:
        ctx.conn.execute(update(clusters).where(clusters.c.id == row.id).values(**values))
    return {"cluster": render(ctx, lookup(ctx, cluster), _EVERYTHING)}


def update_cluster_settings(
    ctx: RequestContext, *, cluster: str, settings: list[dict[str, str]]
) -> dict[str, Any]:
    return update_cluster(ctx, cluster=cluster, settings=settings)
