"""Tasks: RunTask, StartTask, StopTask, DescribeTasks, ListTasks."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Row, Select, bindparam, select

from dockyard.context import RequestContext
from dockyard.ecs import arns, clusters, container_instances, described, task_launch
from dockyard.ecs.task_lifecycle import request_stop
from dockyard.ecs.task_views import render_tasks
from dockyard.errors import InvalidParameterException, UnsupportedFeatureException
from dockyard.store import direct
from dockyard.store.expressions import in_params
from dockyard.store.pagination import PagedQuery, fetch_page, page_limit
from dockyard.store.schema import tasks


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
    client_token: str | None = None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster)
    definition_row, definition = task_launch.resolve_definition(ctx, task_definition)
    resolved_launch = task_launch.launch_type_of(cluster_row, launch_type, capacity_provider_strategy)
    task_launch.check_compatibility(definition, resolved_launch, network_configuration)
    checked_overrides = task_launch.check_overrides(definition, overrides)
    group = group or f"family:{definition['family']}"
    request = task_launch.placement_request(
        definition,
        checked_overrides,
        launch_type=resolved_launch,
        group=group,
        count=count,
        constraints=placement_constraints,
        strategies=placement_strategy,
    )
    instance_ids = None
    if only_instances is not None:
        instance_ids = [container_instances.lookup(ctx, cluster_row, name).id for name in only_instances]
    else:
        task_launch.require_capacity(ctx, cluster_row, resolved_launch)
    order = task_launch.Launch(
        cluster=cluster_row,
        definition=definition,
        request=request,
        launch_type=resolved_launch,
        overrides=checked_overrides,
        group=group,
        started_by=started_by,
        tags=task_launch.task_tags(
            definition_row,
            cluster_row,
            tags,
            propagate_tags=propagate_tags,
            managed_tags=enable_ecs_managed_tags,
        ),
        client_token=client_token,
        instance_ids=instance_ids,
        attributes=extra,
    )
    launched = task_launch.launch(ctx, order)
    if not launched.result.chosen and not launched.result.failures:  # no instance refused: there are none
        raise InvalidParameterException("No Container Instances were found in your cluster.")
    rendered = render_tasks(
        ctx,
        launched.rows,
        include_tags=True,
        cluster_arns={cluster_row.name: cluster_row.arn},
        instance_arns={pick.id: pick.arn for pick in launched.result.chosen},
    )
    return {"tasks": rendered, "failures": launched.failures}


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
        client_token=client_token,
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


def find(ctx: RequestContext, cluster: Row[Any], identifier: str, *, lock: bool = False) -> Row[Any] | None:
    """The cluster's task named by id or ARN (long or short form); ``lock``: locked until the
    commit, for a change computed from what it reads (a report racing a stop must not undo it)."""
    task_id = arns.named_id(ctx, identifier, "task")
    if not task_id:
        return None
    scope = {"account": ctx.account_id, "region": ctx.region, "cluster": cluster.name, "id": task_id}
    return direct.execute(ctx.conn, _TASK_BY_ID_LOCKED if lock else _TASK_BY_ID, scope).first()


# Built once: agents' state reports and DescribeTasks/StopTask look one up on every call.
_TASK_BY_ID = select(tasks).where(
    tasks.c.account_id == bindparam("account"),
    tasks.c.region == bindparam("region"),
    tasks.c.cluster_name == bindparam("cluster"),
    tasks.c.task_id == bindparam("id"),
)
_TASK_BY_ID_LOCKED = _TASK_BY_ID.with_for_update()


@functools.lru_cache(maxsize=128)
def _tasks_by_ids(count: int) -> Select[Any]:
    # Built once per number of tasks named: DescribeTasks reads them all in one statement. The
    # cluster is checked on the rows: in the WHERE, SQLite walked the cluster's index instead of
    # looking each id up on the unique one.
    return select(tasks).where(
        tasks.c.account_id == bindparam("account"),
        tasks.c.region == bindparam("region"),
        in_params(tasks.c.task_id, "id", count),
    )


def find_many(ctx: RequestContext, cluster: Row[Any], identifiers: list[str]) -> dict[str, Row[Any]]:
    """``find`` for several identifiers in one statement: identifier -> row, for those found."""
    scope = {"account": ctx.account_id, "region": ctx.region}
    found = described.find_many(ctx, identifiers, "task", _tasks_by_ids, scope, lambda row: str(row.task_id))
    return {identifier: row for identifier, row in found.items() if row.cluster_name == cluster.name}


def stop_task(
    ctx: RequestContext, *, task: str, cluster: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster)
    row = find(ctx, cluster_row, task, lock=True)
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
    cluster_row = clusters.lookup(ctx, cluster, documents=False)
    if not tasks:
        raise InvalidParameterException("Tasks cannot be empty.")
    if len(tasks) > 100:
        raise InvalidParameterException("At most 100 tasks can be described at once.")
    rows, failures = [], []
    found = find_many(ctx, cluster_row, tasks)
    for identifier in tasks:
        row = found.get(identifier)
        if row is None:
            missing = (
                identifier
                if arns.is_arn(identifier)
                else arns.arn(ctx, f"task/{cluster_row.name}/{identifier}")
            )
            failures.append({"arn": missing, "reason": "MISSING"})
        else:
            rows.append(row)
    rendered = render_tasks(
        ctx, rows, include_tags="TAGS" in (include or ()), cluster_arns={cluster_row.name: cluster_row.arn}
    )
    return {"tasks": rendered, "failures": failures}


@functools.cache
def _listed(
    by_instance: bool, by_family: bool, by_started_by: bool, by_service: bool, by_launch_type: bool
) -> PagedQuery:
    """ListTasks' page statements for the filters given, built once."""
    query = select(tasks.c.id, tasks.c.arn).where(
        tasks.c.account_id == bindparam("account"),
        tasks.c.region == bindparam("region"),
        tasks.c.cluster_name == bindparam("cluster"),
        tasks.c.desired_status == bindparam("status"),
    )
    filters = (
        (by_instance, tasks.c.container_instance_id, "instance"),
        (by_family, tasks.c.family, "family"),
        (by_started_by, tasks.c.started_by, "started_by"),
        (by_service, tasks.c.service_name, "service_name"),
        (by_launch_type, tasks.c.launch_type, "launch_type"),
    )
    for wanted, column, name in filters:
        if wanted:
            query = query.where(column == bindparam(name))
    return PagedQuery(query, [tasks.c.id])


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
    cluster_row = clusters.lookup(ctx, cluster, documents=False)
    limit = page_limit(max_results)
    if daemon_name:  # said, not answered with an empty list: there are no daemons to filter by
        raise UnsupportedFeatureException("daemonName is not supported by Dockyard: it has no daemons yet.")
    if started_by and (family or container_instance or service_name):
        raise InvalidParameterException("When you specify startedBy, it must be the only filter.")
    status = desired_status or "RUNNING"
    params: dict[str, Any] = {
        "account": ctx.account_id,
        "region": ctx.region,
        "cluster": cluster_row.name,
        "status": status,
        "family": family,
        "started_by": started_by,
        "service_name": service_name,
        "launch_type": launch_type,
    }
    if container_instance:
        instance = container_instances.find(ctx, cluster_row, container_instance)
        if instance is None:
            raise InvalidParameterException("The referenced container instance was not found.")
        params["instance"] = instance.id
    filters = (
        bool(container_instance),
        bool(family),
        bool(started_by),
        bool(service_name),
        bool(launch_type),
    )
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
    rows, last = fetch_page(ctx.conn, _listed(*filters), limit=limit, after=after, params=params)
    result: dict[str, Any] = {"taskArns": [row.arn for row in rows]}
    if last is not None:
        result["nextToken"] = ctx.tokens.seal(last, scope)
    return result
