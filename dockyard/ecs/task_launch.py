"""The one way tasks are launched: RunTask, StartTask and the service scheduler all build a
``Launch`` (a resolved task definition, a placement request, who started it and why) and hand
it to ``launch``, which places, reserves, writes the task rows and wakes the agents."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, insert, select

from dockyard.context import RequestContext
from dockyard.ecs import account_settings, arns, task_definitions
from dockyard.ecs.instance_books import gpus_of
from dockyard.ecs.tagging import check_tags
from dockyard.ecs.task_lifecycle import wake_agents
from dockyard.ecs.task_placement import place_and_reserve
from dockyard.errors import ClientException, InvalidParameterException, UnsupportedFeatureException
from dockyard.placement.constraints import check_constraints
from dockyard.placement.demand import task_demand
from dockyard.placement.model import PlacementRequest, PlacementResult
from dockyard.placement.strategies import check_strategies
from dockyard.store import direct
from dockyard.store.schema import attributes, tasks

# The columns of a new task row that a launch leaves unset (None), for rendering it unread.
_UNSET = dict.fromkeys(column.name for column in tasks.c)
_INSERT = insert(tasks)


@dataclass(frozen=True)
class Launch:
    """Tasks to start: everything decided before placement."""

    cluster: Row[Any]
    definition: dict[str, Any]  # the rendered task definition
    request: PlacementRequest
    launch_type: str
    overrides: dict[str, Any]
    group: str
    started_by: str | None
    tags: list[dict[str, str]]
    service_name: str | None = None
    deployment_id: int | None = None  # service_deployments.id
    client_token: str | None = None
    instance_ids: list[int] | None = None  # only these instances (StartTask, daemons)
    attributes: dict[str, Any] = field(default_factory=dict)  # other Task members, as given
    each: tuple[dict[str, Any], ...] = ()  # the n-th placed task's own columns (a batch item's)


@dataclass(frozen=True)
class Launched:
    rows: list[Any]  # the task rows as inserted
    result: PlacementResult

    @property
    def failures(self) -> list[dict[str, str]]:
        return [
            {"arn": failure.arn, "reason": failure.reason} if failure.arn else {"reason": failure.reason}
            for failure in self.result.failures
        ]


def resolve_definition(ctx: RequestContext, task_definition: str) -> tuple[Row[Any], dict[str, Any]]:
    """The ACTIVE revision a task definition reference names, row and rendered."""
    row = task_definitions.resolve(ctx, task_definition)
    if row.status != "ACTIVE":
        raise ClientException(f"TaskDefinition is inactive: {row.arn}")
    return row, task_definitions.render(row)


def launch_type_of(cluster: Row[Any], launch_type: str | None, strategy: list[dict[str, Any]] | None) -> str:
    if launch_type and strategy:
        raise InvalidParameterException(
            "Specify either a launchType or a capacityProviderStrategy, not both."
        )
    if strategy or (not launch_type and cluster.default_capacity_provider_strategy):
        provider = (strategy or cluster.default_capacity_provider_strategy)[0].get("capacityProvider", "")
        return "FARGATE" if provider.startswith("FARGATE") else "EC2"
    return launch_type or "EC2"


def check_compatibility(
    definition: dict[str, Any], launch_type: str, network_configuration: dict[str, Any] | None
) -> None:
    compatible = definition.get("compatibilities", ["EC2"])
    if launch_type not in compatible:
        raise InvalidParameterException(f"Task definition does not support launch_type {launch_type}.")
    if definition.get("networkMode") == "awsvpc" and not network_configuration:
        raise InvalidParameterException(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified."
        )


def check_overrides(definition: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    overrides = overrides or {}
    names = {container["name"] for container in definition["containerDefinitions"]}
    for item in overrides.get("containerOverrides", []):
        if item.get("name") not in names:
            raise InvalidParameterException(
                f"Override for container named {item.get('name')} is not a container in the TaskDefinition."
            )
    return overrides


def placement_request(
    definition: dict[str, Any],
    overrides: dict[str, Any],
    *,
    launch_type: str,
    group: str,
    count: int,
    constraints: list[dict[str, Any]] | None,
    strategies: list[dict[str, Any]] | None,
) -> PlacementRequest:
    """The placement request of ``count`` tasks of a definition (its constraints first)."""
    all_constraints = tuple(definition.get("placementConstraints", [])) + tuple(constraints or [])
    check_constraints(all_constraints)
    check_strategies(strategies or ())
    return PlacementRequest(
        demand=task_demand(definition, overrides, launch_type=launch_type, group=group),
        count=count,
        constraints=all_constraints,
        strategies=tuple(strategies or ()),
    )


def task_tags(
    definition_row: Row[Any],
    cluster: Row[Any],
    tags: list[dict[str, str]] | None,
    *,
    propagate_tags: str | None,
    managed_tags: bool | None,
    service_tags: list[dict[str, str]] | None = None,
    service_name: str | None = None,
) -> list[dict[str, str]]:
    """A new task's tags: its own, then those it inherits (propagateTags), then ECS's managed ones."""
    result = check_tags(tags)
    if propagate_tags == "TASK_DEFINITION":
        result = check_tags([*definition_row.tags, *result])
    elif propagate_tags == "SERVICE" and service_tags:
        result = check_tags([*service_tags, *result])
    if managed_tags:
        result = [*result, {"key": "aws:ecs:clusterName", "value": cluster.name}]
        if service_name:
            result.append({"key": "aws:ecs:serviceName", "value": service_name})
    return result


def has_fargate_capacity(ctx: RequestContext, cluster: Row[Any]) -> bool:
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


def require_capacity(ctx: RequestContext, cluster: Row[Any], launch_type: str) -> None:
    if launch_type == "FARGATE" and not has_fargate_capacity(ctx, cluster):
        raise UnsupportedFeatureException(
            "FARGATE is not available: no managed local capacity is configured for this cluster."
        )


def launch(ctx: RequestContext, order: Launch) -> Launched:
    """Place the tasks, reserve what they hold, insert their rows and wake their agents."""
    result, desired_versions = place_and_reserve(ctx, order.cluster, order.request, order.instance_ids)
    rows = _insert_tasks(ctx, order, result, desired_versions)
    wake_agents(ctx, [pick.id for pick in result.chosen])  # place_and_reserve marked them
    return Launched(rows, result)


# Under this key of a task's stored attributes (no ECS member: DescribeTasks never shows it):
# how placement chose its instance, as the console's task page shows it.
PLACED_HOW = "dockyard:placement"


def placed_how(request: PlacementRequest, result: PlacementResult, n: int) -> dict[str, Any]:
    """The ``n``-th placed task's choice: the strategy, each scorer's score of its instance
    (lower won) and how many other instances could have taken it."""
    return {
        "strategy": [dict(step) for step in request.strategies],
        "scores": [list(score) for score in result.scores[n]] if n < len(result.scores) else [],
        "others": result.others[n] if n < len(result.others) else None,
    }


def _hex_ids(count: int) -> list[str]:
    """``count`` random 32-digit hex ids, as ``secrets.token_hex(16)`` makes them."""
    drawn = secrets.token_hex(16 * count)
    return [drawn[i : i + 32] for i in range(0, len(drawn), 32)]


def _insert_tasks(
    ctx: RequestContext, order: Launch, result: PlacementResult, desired_versions: dict[int, int]
) -> list[Any]:
    """Insert a task per placed pick (one statement for all); their rows as inserted.

    A new task is stamped with its instance's desired version, which the reservation just
    moved: the agent's next delta frame (docs/agent-protocol.md) finds it by that stamp."""
    cluster, definition, request = order.cluster, order.definition, order.request
    demand = request.demand
    long_form = account_settings.long_arn_format(ctx, "taskLongArnFormat")
    values = []
    # Every id this launch needs from one draw of the system's randomness, not a call per id.
    ids = iter(_hex_ids(len(result.chosen) * (1 + len(definition["containerDefinitions"]))))
    for n, pick in enumerate(result.chosen):
        task_id = next(ids)
        task_arn = arns.arn(ctx, f"task/{cluster.name}/{task_id}" if long_form else f"task/{task_id}")
        containers = [
            {
                "containerArn": arns.arn(
                    ctx,
                    f"container/{cluster.name}/{task_id}/{next(ids)}"
                    if long_form
                    else f"container/{next(ids)}",
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
                "frame_version": desired_versions[pick.id],
                "task_definition_arn": definition["taskDefinitionArn"],
                "family": definition["family"],
                "launch_type": order.launch_type,
                "last_status": "PROVISIONING",
                "desired_status": "RUNNING",
                "group_name": order.group,
                "started_by": order.started_by,
                "service_name": order.service_name,
                "deployment_id": order.deployment_id,
                "cpu": demand.cpu,
                "memory": demand.memory,
                "ports": sorted(demand.ports),
                "gpus": gpus_of(pick, request),
                "overrides": order.overrides,
                "containers": containers,
                "attributes": {
                    **order.attributes,
                    "availabilityZone": pick.attributes.get("ecs.availability-zone"),
                    PLACED_HOW: placed_how(request, result, n),
                },
                "tags": order.tags,
                "health_status": "UNKNOWN",
                "created_at": ctx.now,
                "version": 1,
                "client_token": order.client_token,
                **(order.each[n] if n < len(order.each) else {}),
            }
        )
    if values:
        direct.write(ctx.conn, _INSERT, values)  # one executemany; nothing to read back
    # The rows as inserted (render_tasks reads attributes), without a round trip to read them.
    return [SimpleNamespace(**{**_UNSET, **value}) for value in values]
