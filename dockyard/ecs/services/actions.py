"""CreateService, UpdateService, DeleteService: they change what a service wants; the
scheduler (``scheduler.py``) then makes the cluster match it."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
from sqlalchemy import insert, select, update

from dockyard.context import RequestContext
from dockyard.ecs import account_settings, arns, clusters, task_launch
from dockyard.ecs.services import config, deployments, records, views, wake
from dockyard.ecs.tagging import check_tags
from dockyard.errors import InvalidParameterException, UnsupportedFeatureException
from dockyard.placement.constraints import check_constraints
from dockyard.placement.strategies import check_strategies
from dockyard.store.schema import services

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
MAX_GRACE_SECONDS = 2_147_483_647


# Members Dockyard cannot honour yet (wire name: keyword).
_UNSUPPORTED = {
    "loadBalancers": "load_balancers",
    "serviceRegistries": "service_registries",
    "serviceConnectConfiguration": "service_connect_configuration",
    "volumeConfigurations": "volume_configurations",
    "vpcLatticeConfigurations": "vpc_lattice_configurations",
    "gatewayConnectors": "gateway_connectors",
    "monitoring": "monitoring",
}


def _refuse_unsupported(members: dict[str, Any]) -> None:
    """Members Dockyard cannot honour are refused by name, never accepted and dropped."""
    for name, keyword in _UNSUPPORTED.items():
        if members.get(keyword):
            raise UnsupportedFeatureException(f"{name} is not supported by Dockyard yet.")


def _check_deployment_controller(controller: dict[str, Any] | None) -> None:
    if controller and controller.get("type", "ECS") != "ECS":
        raise UnsupportedFeatureException(
            f"The {controller['type']} deployment controller is not supported by Dockyard yet; use ECS."
        )


def _check_grace(seconds: int | None) -> None:
    if seconds is not None and not 0 <= seconds <= MAX_GRACE_SECONDS:
        raise InvalidParameterException(
            f"healthCheckGracePeriodSeconds must be between 0 and {MAX_GRACE_SECONDS}."
        )


def _check_desired(desired_count: int | None) -> None:
    if desired_count is not None and desired_count < 0:
        raise InvalidParameterException("Invalid desiredCount: it must be greater than or equal to 0.")


def _digest(params: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(params, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _deployment_body(service_body: dict[str, Any], launch_type: str | None) -> dict[str, Any]:
    """What a deployment keeps of its service at the time it starts."""
    return {
        "launchType": launch_type,
        "platformVersion": service_body.get("platformVersion"),
        "networkConfiguration": service_body.get("networkConfiguration"),
        "capacityProviderStrategy": service_body.get("capacityProviderStrategy"),
        "deploymentConfiguration": service_body["deploymentConfiguration"],
        "placementConstraints": service_body.get("placementConstraints"),
        "placementStrategy": service_body.get("placementStrategy"),
    }


def create_service(
    ctx: RequestContext,
    *,
    service_name: str,
    cluster: str | None = None,
    task_definition: str | None = None,
    availability_zone_rebalancing: str | None = None,
    load_balancers: list[dict[str, Any]] | None = None,
    service_registries: list[dict[str, Any]] | None = None,
    desired_count: int | None = None,
    client_token: str | None = None,
    launch_type: str | None = None,
    capacity_provider_strategy: list[dict[str, Any]] | None = None,
    platform_version: str | None = None,
    role: str | None = None,
    deployment_configuration: dict[str, Any] | None = None,
    placement_constraints: list[dict[str, Any]] | None = None,
    placement_strategy: list[dict[str, Any]] | None = None,
    network_configuration: dict[str, Any] | None = None,
    health_check_grace_period_seconds: int | None = None,
    scheduling_strategy: str | None = None,
    deployment_controller: dict[str, Any] | None = None,
    tags: list[dict[str, str]] | None = None,
    enable_ecs_managed_tags: bool | None = None,
    propagate_tags: str | None = None,
    enable_execute_command: bool | None = None,
    service_connect_configuration: dict[str, Any] | None = None,
    volume_configurations: list[dict[str, Any]] | None = None,
    vpc_lattice_configurations: list[dict[str, Any]] | None = None,
    gateway_connectors: list[dict[str, Any]] | None = None,
    monitoring: dict[str, Any] | None = None,
) -> dict[str, Any]:
    request = {key: value for key, value in locals().items() if key not in ("ctx", "client_token")}
    cluster_row = clusters.lookup(ctx, cluster)
    if not _NAME.match(service_name):
        raise InvalidParameterException(
            "Service name can have up to 255 letters (uppercase and lowercase), numbers, hyphens "
            "and underscores."
        )
    if client_token is not None and not 1 <= len(client_token) <= 36:
        raise InvalidParameterException("clientToken can have up to 36 ASCII characters.")
    _refuse_unsupported(request)
    _check_deployment_controller(deployment_controller)
    strategy = scheduling_strategy or "REPLICA"
    if strategy == "DAEMON":
        if desired_count is not None:
            raise InvalidParameterException(
                "The daemon scheduling strategy does not support a desired count for services."
            )
        if placement_strategy:
            raise InvalidParameterException(
                "The daemon scheduling strategy does not support placement strategies."
            )
    elif desired_count is None:
        raise InvalidParameterException(
            "desiredCount is required for a service using the REPLICA scheduling strategy."
        )
    _check_desired(desired_count)
    _check_grace(health_check_grace_period_seconds)
    if not task_definition:
        raise InvalidParameterException("TaskDefinition cannot be empty.")
    digest = _digest(request)
    existing = records.find(ctx, cluster_row, service_name, lock=True)
    if client_token:
        earlier = ctx.conn.execute(
            select(services).where(
                services.c.account_id == ctx.account_id,
                services.c.region == ctx.region,
                services.c.client_token == client_token,
            )
        ).first()
        if earlier is not None:
            if earlier.request_digest != digest:
                raise InvalidParameterException("Creation of service was not idempotent.")
            return {"service": _render(ctx, cluster_row, earlier.id)}
    if existing is not None and existing.status != "INACTIVE":
        if existing.request_digest == digest:
            return {"service": _render(ctx, cluster_row, existing.id)}
        raise InvalidParameterException("Creation of service was not idempotent.")
    definition_row, definition = task_launch.resolve_definition(ctx, task_definition)
    resolved_launch = task_launch.launch_type_of(cluster_row, launch_type, capacity_provider_strategy)
    if strategy == "DAEMON" and resolved_launch == "FARGATE":
        raise InvalidParameterException(
            "The daemon scheduling strategy does not support the FARGATE launch type."
        )
    task_launch.check_compatibility(definition, resolved_launch, network_configuration)
    task_launch.require_capacity(ctx, cluster_row, resolved_launch)
    check_constraints([*definition.get("placementConstraints", []), *(placement_constraints or [])])
    check_strategies(placement_strategy or ())
    configuration = config.deployment_configuration(deployment_configuration, strategy)
    if propagate_tags not in (None, "NONE", "SERVICE", "TASK_DEFINITION"):
        raise InvalidParameterException("propagateTags should be one of [TASK_DEFINITION,SERVICE,NONE]")
    long_form = account_settings.long_arn_format(ctx, "serviceLongArnFormat")
    arn = arns.arn(
        ctx, f"service/{cluster_row.name}/{service_name}" if long_form else f"service/{service_name}"
    )
    body = {
        "desiredCount": desired_count or 0,
        "deploymentConfiguration": configuration,
        "placementConstraints": placement_constraints or [],
        "placementStrategy": placement_strategy or [],
        "networkConfiguration": network_configuration,
        "healthCheckGracePeriodSeconds": health_check_grace_period_seconds,
        "deploymentController": deployment_controller or {"type": "ECS"},
        "enableECSManagedTags": bool(enable_ecs_managed_tags),
        "propagateTags": propagate_tags or "NONE",
        "enableExecuteCommand": bool(enable_execute_command),
        "platformVersion": platform_version if resolved_launch == "FARGATE" else None,
        "capacityProviderStrategy": capacity_provider_strategy,
        "availabilityZoneRebalancing": availability_zone_rebalancing or "DISABLED",
        "roleArn": role,
    }
    result = ctx.conn.execute(
        insert(services).values(
            account_id=ctx.account_id,
            region=ctx.region,
            cluster_name=cluster_row.name,
            name=service_name,
            arn=arn,
            status="ACTIVE",
            scheduling_strategy=strategy,
            launch_type=None if capacity_provider_strategy else resolved_launch,
            desired_count=desired_count or 0,
            task_definition_arn=definition_row.arn,
            body=body,
            tags=check_tags(tags),
            events=[],
            client_token=client_token,
            request_digest=digest,
            created_at=ctx.now,
            created_by=ctx.identity.principal_arn if ctx.identity else None,
            due_at=ctx.now,
            version=1,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    service_id = int(key[0])
    service = records.by_id(ctx, service_id)
    deployments.start(
        ctx,
        service,
        task_definition_arn=definition_row.arn,
        desired_count=desired_count or 0,
        body=_deployment_body(body, resolved_launch),
    )
    wake.service_changed(ctx, service_id)
    return {"service": _render(ctx, cluster_row, service_id)}


def update_service(
    ctx: RequestContext,
    *,
    service: str,
    cluster: str | None = None,
    desired_count: int | None = None,
    task_definition: str | None = None,
    capacity_provider_strategy: list[dict[str, Any]] | None = None,
    deployment_configuration: dict[str, Any] | None = None,
    availability_zone_rebalancing: str | None = None,
    network_configuration: dict[str, Any] | None = None,
    placement_constraints: list[dict[str, Any]] | None = None,
    placement_strategy: list[dict[str, Any]] | None = None,
    platform_version: str | None = None,
    force_new_deployment: bool | None = None,
    health_check_grace_period_seconds: int | None = None,
    deployment_controller: dict[str, Any] | None = None,
    enable_execute_command: bool | None = None,
    enable_ecs_managed_tags: bool | None = None,
    load_balancers: list[dict[str, Any]] | None = None,
    propagate_tags: str | None = None,
    service_registries: list[dict[str, Any]] | None = None,
    service_connect_configuration: dict[str, Any] | None = None,
    volume_configurations: list[dict[str, Any]] | None = None,
    vpc_lattice_configurations: list[dict[str, Any]] | None = None,
    gateway_connectors: list[dict[str, Any]] | None = None,
    monitoring: dict[str, Any] | None = None,
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster)
    row = records.lookup_active(ctx, cluster_row, service)
    _refuse_unsupported(locals())
    _check_deployment_controller(deployment_controller)
    _check_desired(desired_count)
    _check_grace(health_check_grace_period_seconds)
    daemon = row.scheduling_strategy == "DAEMON"
    if daemon and desired_count is not None:
        raise InvalidParameterException(
            "The daemon scheduling strategy does not support a desired count for services."
        )
    if daemon and placement_strategy:
        raise InvalidParameterException(
            "The daemon scheduling strategy does not support placement strategies."
        )
    body = dict(row.body)
    new_deployment = bool(force_new_deployment)
    definition_arn = row.task_definition_arn
    launch_type = row.launch_type
    if capacity_provider_strategy is not None:
        body["capacityProviderStrategy"] = capacity_provider_strategy
        launch_type = task_launch.launch_type_of(cluster_row, None, capacity_provider_strategy)
        new_deployment = True
    if task_definition is not None:
        definition_row, definition = task_launch.resolve_definition(ctx, task_definition)
        task_launch.check_compatibility(
            definition, launch_type or "EC2", network_configuration or body.get("networkConfiguration")
        )
        if definition_row.arn != row.task_definition_arn:
            definition_arn, new_deployment = definition_row.arn, True
    if network_configuration is not None and network_configuration != body.get("networkConfiguration"):
        body["networkConfiguration"], new_deployment = network_configuration, True
    if placement_constraints is not None:
        check_constraints(placement_constraints)
        body["placementConstraints"], new_deployment = placement_constraints, True
    if placement_strategy is not None:
        check_strategies(placement_strategy)
        body["placementStrategy"], new_deployment = placement_strategy, True
    if platform_version is not None and (launch_type == "FARGATE"):
        body["platformVersion"], new_deployment = platform_version, True
    if deployment_configuration is not None:
        body["deploymentConfiguration"] = config.deployment_configuration(
            deployment_configuration, row.scheduling_strategy, body["deploymentConfiguration"]
        )
    for name, value in (
        ("healthCheckGracePeriodSeconds", health_check_grace_period_seconds),
        ("enableExecuteCommand", enable_execute_command),
        ("enableECSManagedTags", enable_ecs_managed_tags),
        ("propagateTags", propagate_tags),
        ("availabilityZoneRebalancing", availability_zone_rebalancing),
    ):
        if value is not None:
            body[name] = value
    desired = row.desired_count if desired_count is None else desired_count
    body["desiredCount"] = desired
    ctx.conn.execute(
        update(services)
        .where(services.c.id == row.id)
        .values(
            body=body,
            desired_count=desired,
            task_definition_arn=definition_arn,
            launch_type=launch_type,
            steady=False,
            failure_streak=0,
            launch_after=None,
            version=row.version + 1,
        )
    )
    if new_deployment:
        deployments.start(
            ctx,
            row,
            task_definition_arn=definition_arn,
            desired_count=desired,
            body=_deployment_body(body, launch_type),
        )
    else:
        for deployment in deployments.current(ctx, row.id):
            if deployment.status == "PRIMARY":
                deployments.set_values(ctx, deployment.id, desired_count=desired)
    wake.service_changed(ctx, row.id)
    return {"service": _render(ctx, cluster_row, row.id)}


def delete_service(
    ctx: RequestContext, *, service: str, cluster: str | None = None, force: bool | None = None
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster)
    row = records.lookup_active(ctx, cluster_row, service)
    if row.scheduling_strategy == "REPLICA" and row.desired_count > 0 and not force:
        raise InvalidParameterException("The service cannot be stopped while it is scaled above 0.")
    ctx.conn.execute(
        update(services)
        .where(services.c.id == row.id)
        .values(status="DRAINING", desired_count=0, deleted_at=ctx.now, version=row.version + 1)
    )
    wake.service_changed(ctx, row.id)
    return {"service": _render(ctx, cluster_row, row.id)}


def _render(ctx: RequestContext, cluster_row: Any, service_id: int) -> dict[str, Any]:
    row = records.by_id(ctx, service_id)
    assert row is not None
    return views.render_services(ctx, [row], {cluster_row.name: cluster_row.arn}, include_tags=True)[0]
