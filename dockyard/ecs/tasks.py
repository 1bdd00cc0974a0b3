"""Tasks: RunTask, StartTask, StopTask, DescribeTasks, ListTasks."""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, bindparam, insert, select

from dockyard.context import RequestContext
from dockyard.ecs import account_settings, arns, clusters, container_instances, task_definitions
from dockyard.ecs.tagging import check_tags
from dockyard.ecs.task_lifecycle import request_stop, wake_agents
from dockyard.ecs.task_placement import gpus_of, place_and_reserve
from dockyard.ecs.task_views import render_tasks
from dockyard.errors import (
    ClientException,
    InvalidParameterException,
    UnsupportedFeatureException,
)
from dockyard.placement.constraints import check_constraints
from dockyard.placement.demand import task_demand
from dockyard.placement.model import PlacementRequest, PlacementResult
from dockyard.placement.strategies import check_strategies
from dockyard.store.pagination import fetch_page, page_limit
from dockyard.store.schema import tasks

# The columns of a new task row that RunTask leaves unset (None), for rendering it unread.
_UNSET = dict.fromkeys(column.name for column in tasks.c)


def _check_overrides(definition: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    overrides = overrides or {}
    names = {container["name"] for container in definition["containerDefinitions"]}
    for item in overrides.get("containerOverrides", []):
        if item.get("name") not in names:
            raise InvalidParameterException(
                f"Override for container named {item.get('name')} is not a container in the TaskDefinition."
            )
    return overrides


def _launch_type(cluster: Row[Any], launch_type: str | None, strategy: list[dict[str, Any]] | None) -> str:
    if launch_type and strategy:
        raise InvalidParameterException(
            "Specify either a launchType or a capacityProviderStrategy, not both."
        )
    if strategy or (not launch_type and cluster.default_capacity_provider_strategy):
        provider = (strategy or cluster.default_capacity_provider_strategy)[0].get("capacityProvider", "")
        return "FARGATE" if provider.startswith("FARGATE") else "EC2"
    return launch_type or "EC2"


def _check_compatibility(
    definition: dict[str, Any], launch_type: str, network_configuration: dict[str, Any] | None
) -> None:
    compatible = definition.get("compatibilities", ["EC2"])
    if launch_type not in compatible:
        raise InvalidParameterException(f"Task definition does not support launch_type {launch_type}.")
    if definition.get("networkMode") == "awsvpc" and not network_configuration:
        raise InvalidParameterException(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified."
        )


def _new_task_rows(
    ctx: RequestContext,
    cluster: Row[Any],
    definition: dict[str, Any],
    result: PlacementResult,
    request: PlacementRequest,
    *,
    launch_type: str,
    overrides: dict[str, Any],
    group: str,
    started_by: str | None,
    tags: list[dict[str, str]],
    extra: dict[str, Any],
) -> list[Any]:
    """Insert a task per placed pick (one statement for all); their rows as inserted."""
    demand = request.demand
    long_form = account_settings.long_arn_format(ctx, "taskLongArnFormat")
    service_name = extra.pop("service_name", None)
    values = []
    for pick in result.chosen:
        task_id = secrets.token_hex(16)
        task_arn = arns.arn(ctx, f"task/{cluster.name}/{task_id}" if long_form else f"task/{task_id}")
        containers = [
            {
                "containerArn": arns.arn(
                    ctx,
                    f"container/{cluster.name}/{task_id}/{secrets.token_hex(16)}"
                    if long_form
                    else f"container/{secrets.token_hex(16)}",
                ),
                "taskArn": task_arn,
                "name": container["name"],
                "image": container.get("image", ""),
                "lastStatus": "PENDING",
                "networkBindings": [],
                "networkInterfaces": [],
                "healthStatus": "UNKNOWN",
                "cpu": str(container.get("cpu", 0)),
                **({"memory": str(container["memory"])} if container.get("memory") else {}),
                **(
                    {"memoryReservation": str(container["memoryReservation"])}
                    if container.get("memoryReservation")
                    else {}
                ),
            }
            for container in definition["containerDefinitions"]
        ]
        values.append(
            {
                "account_id": ctx.account_id,
                "region": ctx.region,
                "cluster_name": cluster.name,
                "task_id": task_id,
                "arn": task_arn,
                "container_instance_id": pick.id,
                "task_definition_arn": definition["taskDefinitionArn"],
                "family": definition["family"],
                "launch_type": launch_type,
                "last_status": "PROVISIONING",
                "desired_status": "RUNNING",
                "group_name": group,
                "started_by": started_by,
                "service_name": service_name,
                "cpu": demand.cpu,
                "memory": demand.memory,
                "ports": sorted(demand.ports),
                "gpus": gpus_of(pick, request),
                "overrides": overrides,
                "containers": containers,
                "attributes": {**extra, "availabilityZone": pick.attributes.get("ecs.availability-zone")},
                "tags": tags,
                "health_status": "UNKNOWN",
                "created_at": ctx.now,
                "version": 1,
                "client_token": extra.get("clientToken"),
            }
        )
    if values:
        ctx.conn.execute(insert(tasks), values)  # one executemany; nothing to read back
    # The rows as inserted (render_tasks reads attributes), without a round trip to read them.
    return [SimpleNamespace(**{**_UNSET, **value}) for value in values]


def _failures(result: PlacementResult) -> list[dict[str, str]]:
    return [
        {"arn": failure.arn, "reason": failure.reason} if failure.arn else {"reason": failure.reason}
        for failure in result.failures
    ]


def _start(
    ctx: RequestContext,
    *,
    cluster: str | None,
    task_definition: str,
    count: int,
    launch_type: str | None = None,
    capacity_provider_strategy: list[dict[str, Any]] | None = None,
    overrides: dict[str, Any] | None,
    group: str | None,
    started_by: str | None,
    tags: list[dict[str, str]] | None,
    propagate_tags: str | None,
    enable_ecs_managed_tags: bool | None,
    placement_constraints: list[dict[str, Any]] | None = None,
    placement_strategy: list[dict[str, Any]] | None = None,
    network_configuration: dict[str, Any] | None = None,
    only_instances: list[str] | None = None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster)
    row = task_definitions.resolve(ctx, task_definition)
    if row.status != "ACTIVE":
        raise ClientException(f"TaskDefinition is inactive: {row.arn}")
    definition = task_definitions.render(row)
    resolved_launch = _launch_type(cluster_row, launch_type, capacity_provider_strategy)
    _check_compatibility(definition, resolved_launch, network_configuration)
    checked_overrides = _check_overrides(definition, overrides)
    constraints = tuple(definition.get("placementConstraints", [])) + tuple(placement_constraints or [])
    check_constraints(constraints)
    check_strategies(placement_strategy or ())
    group = group or f"family:{definition['family']}"
    request = PlacementRequest(
        demand=task_demand(definition, checked_overrides, launch_type=resolved_launch, group=group),
        count=count,
        constraints=constraints,
        strategies=tuple(placement_strategy or ()),
    )
    instance_ids = None
    if only_instances is not None:
        instance_ids = [container_instances.lookup(ctx, cluster_row, name).id for name in only_instances]
    elif resolved_launch == "FARGATE" and not _has_fargate_capacity(ctx, cluster_row):
        raise UnsupportedFeatureException(
            "FARGATE is not available: no managed local capacity is configured for this cluster."
        )
    result = place_and_reserve(ctx, cluster_row, request, instance_ids)
    if not result.chosen and not result.failures:  # no instance refused: there are none
        raise InvalidParameterException("No Container Instances were found in your cluster.")
    task_tags = check_tags(tags)
    if propagate_tags == "TASK_DEFINITION":
        task_tags = check_tags([*row.tags, *task_tags])
    if enable_ecs_managed_tags:
        task_tags = [*task_tags, {"key": "aws:ecs:clusterName", "value": cluster_row.name}]
    rows = _new_task_rows(
        ctx,
        cluster_row,
        definition,
        result,
        request,
        launch_type=resolved_launch,
        overrides=checked_overrides,
        group=group,
        started_by=started_by,
        tags=task_tags,
        extra=extra,
    )
    wake_agents(ctx, [pick.id for pick in result.chosen])  # place_and_reserve marked them
    rendered = render_tasks(
        ctx,
        rows,
        include_tags=True,
        cluster_arns={cluster_row.name: cluster_row.arn},
        instance_arns={pick.id: pick.arn for pick in result.chosen},
    )
    return {"tasks": rendered, "failures": _failures(result)}


def _has_fargate_capacity(ctx: RequestContext, cluster: Row[Any]) -> bool:
    from dockyard.store.schema import attributes

    return (
        ctx.conn.execute(
            select(attributes.c.target_id)
            .where(
                attributes.c.account_id == ctx.account_id,
                attributes.c.region == ctx.region,
                attributes.c.cluster_name == cluster.name,
                attributes.c.name == "dockyard.capacity.fargate",
                attributes.c.value == "true",
            )
            .limit(1)
        ).first()
        is not None
    )


def _by_client_token(ctx: RequestContext, token: str | None) -> dict[str, Any] | None:
    """A RunTask retried with the same clientToken returns the tasks of the first call."""
    if not token:
        return None
    rows = ctx.conn.execute(
        select(tasks)
        .where(
            tasks.c.account_id == ctx.account_id,
            tasks.c.region == ctx.region,
            tasks.c.client_token == token,
        )
        .order_by(tasks.c.id)
    ).all()
    return {"tasks": render_tasks(ctx, rows, include_tags=True), "failures": []} if rows else None


def _refuse_volume_configurations(given: list[dict[str, Any]] | None) -> None:
    if given:  # said, not dropped: Dockyard has no EBS to create a volume from
        raise UnsupportedFeatureException(
            "volumeConfigurations is not supported by Dockyard: it cannot create Amazon EBS volumes "
            "at launch. Use a host or Docker volume in the task definition instead."
        )


def run_task(
    ctx: RequestContext,
    *,
    task_definition: str,
    capacity_provider_strategy: list[dict[str, Any]] | None = None,
    cluster: str | None = None,
    count: int | None = None,
    enable_ecs_managed_tags: bool | None = None,
    enable_execute_command: bool | None = None,
    group: str | None = None,
    launch_type: str | None = None,
    network_configuration: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    placement_constraints: list[dict[str, Any]] | None = None,
    placement_strategy: list[dict[str, Any]] | None = None,
    platform_version: str | None = None,
    propagate_tags: str | None = None,
    reference_id: str | None = None,
    started_by: str | None = None,
    tags: list[dict[str, str]] | None = None,
    client_token: str | None = None,
    volume_configurations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    _refuse_volume_configurations(volume_configurations)
    if count is not None and not 1 <= count <= 10:
        raise InvalidParameterException("count must be between 1 and 10.")
    if started_by is not None and len(started_by) > 128:
        raise InvalidParameterException("startedBy can be at most 128 characters.")
    previous = _by_client_token(ctx, client_token)
    if previous is not None:
        return previous
    extra = {
        "enableExecuteCommand": bool(enable_execute_command),
        "platformVersion": platform_version,
        "referenceId": reference_id,
        "clientToken": client_token,
        "networkConfiguration": network_configuration,
    }
    return _start(
        ctx,
        cluster=cluster,
        task_definition=task_definition,
        count=count or 1,
        launch_type=launch_type,
        capacity_provider_strategy=capacity_provider_strategy,
        overrides=overrides,
        group=group,
        started_by=started_by,
        tags=tags,
        propagate_tags=propagate_tags,
        enable_ecs_managed_tags=enable_ecs_managed_tags,
        placement_constraints=placement_constraints,
        placement_strategy=placement_strategy,
        network_configuration=network_configuration,
        extra=extra,
    )


def start_task(
    ctx: RequestContext,
    *,
    container_instances: list[str],
    task_definition: str,
    cluster: str | None = None,
    enable_ecs_managed_tags: bool | None = None,
    enable_execute_command: bool | None = None,
    group: str | None = None,
    network_configuration: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    propagate_tags: str | None = None,
    reference_id: str | None = None,
    started_by: str | None = None,
    tags: list[dict[str, str]] | None = None,
    volume_configurations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    _refuse_volume_configurations(volume_configurations)
    if not 1 <= len(container_instances) <= 10:
        raise InvalidParameterException("containerInstances must name between 1 and 10 instances.")
    placed: dict[str, Any] = {"tasks": [], "failures": []}
    for instance in container_instances:
        extra = {
            "enableExecuteCommand": bool(enable_execute_command),
            "referenceId": reference_id,
            "networkConfiguration": network_configuration,
        }
        one = _start(
            ctx,
            cluster=cluster,
            task_definition=task_definition,
            count=1,
            overrides=overrides,
            group=group,
            started_by=started_by,
            tags=tags,
            propagate_tags=propagate_tags,
            enable_ecs_managed_tags=enable_ecs_managed_tags,
            network_configuration=network_configuration,
            only_instances=[instance],
            extra=extra,
        )
        placed["tasks"] += one["tasks"]
        placed["failures"] += one["failures"]
    return placed


def find(ctx: RequestContext, cluster: Row[Any], identifier: str) -> Row[Any] | None:
    """The cluster's task named by id or ARN (long or short form)."""
    task_id = arns.named_id(ctx, identifier, "task")
    if not task_id:
        return None
    scope = {"account": ctx.account_id, "region": ctx.region, "cluster": cluster.name, "id": task_id}
    return ctx.conn.execute(_TASK_BY_ID, scope).first()


# Built once: agents' state reports and DescribeTasks/StopTask look one up on every call.
_TASK_BY_ID = select(tasks).where(
    tasks.c.account_id == bindparam("account"),
    tasks.c.region == bindparam("region"),
    tasks.c.cluster_name == bindparam("cluster"),
    tasks.c.task_id == bindparam("id"),
)


def stop_task(
    ctx: RequestContext, *, task: str, cluster: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster)
    row = find(ctx, cluster_row, task)
    if row is None:
        raise InvalidParameterException("The referenced task was not found.")
    if reason is not None and len(reason) > 1024:
        raise InvalidParameterException("reason can be at most 1024 characters.")
    request_stop(ctx, row, reason=reason or "Task stopped by user", stop_code="UserInitiated")
    refreshed = find(ctx, cluster_row, task)
    assert refreshed is not None
    return {"task": render_tasks(ctx, [refreshed], include_tags=True)[0]}


def describe_tasks(
    ctx: RequestContext, *, tasks: list[str], cluster: str | None = None, include: list[str] | None = None
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster)
    if not tasks:
        raise InvalidParameterException("Tasks cannot be empty.")
    if len(tasks) > 100:
        raise InvalidParameterException("At most 100 tasks can be described at once.")
    rows, failures = [], []
    for identifier in tasks:
        row = find(ctx, cluster_row, identifier)
        if row is None:
            missing = (
                identifier
                if arns.is_arn(identifier)
                else arns.arn(ctx, f"task/{cluster_row.name}/{identifier}")
            )
            failures.append({"arn": missing, "reason": "MISSING"})
        else:
            rows.append(row)
    return {"tasks": render_tasks(ctx, rows, include_tags="TAGS" in (include or ())), "failures": failures}


def list_tasks(
    ctx: RequestContext,
    *,
    cluster: str | None = None,
    container_instance: str | None = None,
    family: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
    started_by: str | None = None,
    service_name: str | None = None,
    desired_status: str | None = None,
    launch_type: str | None = None,
    daemon_name: str | None = None,
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster)
    limit = page_limit(max_results)
    if daemon_name:  # said, not answered with an empty list: there are no daemons to filter by
        raise UnsupportedFeatureException("daemonName is not supported by Dockyard: it has no daemons yet.")
    if started_by and (family or container_instance or service_name):
        raise InvalidParameterException("When you specify startedBy, it must be the only filter.")
    status = desired_status or "RUNNING"
    query = select(tasks.c.id, tasks.c.arn).where(
        tasks.c.account_id == ctx.account_id,
        tasks.c.region == ctx.region,
        tasks.c.cluster_name == cluster_row.name,
        tasks.c.desired_status == status,
    )
    if container_instance:
        instance = container_instances.find(ctx, cluster_row, container_instance)
        if instance is None:
            raise InvalidParameterException("The referenced container instance was not found.")
        query = query.where(tasks.c.container_instance_id == instance.id)
    if family:
        query = query.where(tasks.c.family == family)
    if started_by:
        query = query.where(tasks.c.started_by == started_by)
    if service_name:
        query = query.where(tasks.c.service_name == service_name)
    if launch_type:
        query = query.where(tasks.c.launch_type == launch_type)
    scope = (
        "ListTasks",
        ctx.account_id,
        ctx.region,
        cluster_row.name,
        container_instance,
        family,
        started_by,
        service_name,
        status,
        launch_type,
    )
    after = ctx.tokens.open(next_token, scope) if next_token else None
    rows, last = fetch_page(ctx.conn, query, [tasks.c.id], limit=limit, after=after)
    result: dict[str, Any] = {"taskArns": [row.arn for row in rows]}
    if last is not None:
        result["nextToken"] = ctx.tokens.seal(last, scope)
    return result
