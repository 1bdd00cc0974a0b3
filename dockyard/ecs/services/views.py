"""The Service, Deployment, ServiceDeployment and ServiceRevision shapes, from their rows."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, Select, func, select

from dockyard.context import RequestContext
from dockyard.ecs import task_states
from dockyard.ecs.services import config
from dockyard.store import direct
from dockyard.store.expressions import in_params, in_values, one_of
from dockyard.store.schema import service_deployments, tasks

_deployments = service_deployments.c
# Members of a service's body that the Service shape echoes as they were given.
_ECHOED = (
    "loadBalancers",
    "serviceRegistries",
    "capacityProviderStrategy",
    "platformVersion",
    "deploymentConfiguration",
    "placementConstraints",
    "placementStrategy",
    "networkConfiguration",
    "healthCheckGracePeriodSeconds",
    "deploymentController",
    "enableECSManagedTags",
    "propagateTags",
    "enableExecuteCommand",
    "availabilityZoneRebalancing",
    "roleArn",
)


# Built once per number of items: building a statement per call cost more than running it.
@functools.lru_cache(maxsize=128)
def _task_counts(count: int) -> Select[Any]:
    return (
        select(tasks.c.deployment_id, tasks.c.last_status, func.count())
        .where(in_params(tasks.c.deployment_id, "id", count), one_of(tasks.c.last_status, task_states.LIVE))
        .group_by(tasks.c.deployment_id, tasks.c.last_status)
    )


@functools.lru_cache(maxsize=128)
def _live_deployments(count: int) -> Select[Any]:
    return (
        select(service_deployments)
        .where(in_params(_deployments.service_id, "id", count), _deployments.status != "INACTIVE")
        .order_by(_deployments.id.desc())
    )


def task_counts(ctx: RequestContext, deployment_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Per deployment: its tasks RUNNING and PENDING (as ECS counts them)."""
    ids = sorted(set(deployment_ids))
    counts: dict[int, dict[str, int]] = defaultdict(lambda: {"running": 0, "pending": 0})
    if not ids:
        return counts
    rows = direct.fetch(ctx.conn, _task_counts(len(ids)), in_values("id", ids))
    for deployment_id, status, count in rows:
        if status == "RUNNING":
            counts[deployment_id]["running"] += count
        elif status in task_states.PENDING:
            counts[deployment_id]["pending"] += count
    return counts


def render_deployment(row: Row[Any], counts: dict[str, int]) -> dict[str, Any]:
    body = row.body
    deployment: dict[str, Any] = {
        "id": row.deployment_id,
        "status": row.status,
        "taskDefinition": row.task_definition_arn,
        "desiredCount": row.desired_count,
        "pendingCount": counts["pending"],
        "runningCount": counts["running"],
        "failedTasks": row.failed_tasks,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "launchType": body.get("launchType"),
        "rolloutState": row.rollout_state,
        "rolloutStateReason": row.rollout_state_reason,
    }
    for name in ("platformVersion", "networkConfiguration", "capacityProviderStrategy"):
        if body.get(name) is not None:
            deployment[name] = body[name]
    return deployment


def render_services(
    ctx: RequestContext,
    rows: Sequence[Row[Any]],
    cluster_arns: dict[str, str],
    *,
    include_tags: bool,
) -> list[dict[str, Any]]:
    """The Service shapes of ``rows`` with their current deployments and task counts."""
    if not rows:
        return []
    by_service: dict[int, list[Row[Any]]] = defaultdict(list)
    ids = sorted({row.id for row in rows})
    for deployment in direct.fetch(ctx.conn, _live_deployments(len(ids)), in_values("id", ids)):
        by_service[deployment.service_id].append(deployment)
    counts = task_counts(ctx, [d.id for ds in by_service.values() for d in ds])
    return [
        render_service(row, cluster_arns[row.cluster_name], by_service[row.id], counts, include_tags)
        for row in rows
    ]


def render_service(
    row: Row[Any],
    cluster_arn: str,
    deployments: list[Row[Any]],
    counts: dict[int, dict[str, int]],
    include_tags: bool,
) -> dict[str, Any]:
    ordered = sorted(deployments, key=lambda d: d.status != "PRIMARY")
    rendered = [render_deployment(d, counts[d.id]) for d in ordered]
    primary = ordered[0] if ordered else None
    body = row.body
    service: dict[str, Any] = {
        "serviceArn": row.arn,
        "serviceName": row.name,
        "clusterArn": cluster_arn,
        "status": row.status,
        "desiredCount": row.desired_count,
        "runningCount": sum(d["runningCount"] for d in rendered),
        "pendingCount": sum(d["pendingCount"] for d in rendered),
        "launchType": row.launch_type,
        "taskDefinition": row.task_definition_arn,
        "deployments": rendered,
        "events": row.events,
        "createdAt": row.created_at,
        "createdBy": row.created_by,
        "schedulingStrategy": row.scheduling_strategy,
        "taskSets": [],
    }
    if primary is not None:
        service["currentServiceDeployment"] = primary.arn
        service["currentServiceRevisions"] = [
            {
                "arn": d.revision_arn,
                "requestedTaskCount": d.desired_count,
                "runningTaskCount": counts[d.id]["running"],
                "pendingTaskCount": counts[d.id]["pending"],
            }
            for d in ordered
        ]
    for name in _ECHOED:
        if body.get(name) is not None:
            service[name] = body[name]
    if include_tags:
        service["tags"] = row.tags
    return {key: value for key, value in service.items() if value is not None}


def render_service_deployment(
    row: Row[Any], service: Row[Any], cluster_arn: str, counts: dict[str, int]
) -> dict[str, Any]:
    """The ServiceDeployment shape (DescribeServiceDeployments)."""
    body = row.body
    configuration = body.get("deploymentConfiguration") or {}
    enabled = bool((configuration.get("deploymentCircuitBreaker") or {}).get("enable"))
    result: dict[str, Any] = {
        "serviceDeploymentArn": row.arn,
        "serviceArn": service.arn,
        "clusterArn": cluster_arn,
        "createdAt": row.created_at,
        "startedAt": row.created_at,
        "updatedAt": row.updated_at,
        "finishedAt": row.finished_at,
        "sourceServiceRevisions": [{"arn": arn} for arn in body.get("sourceServiceRevisions", [])],
        "targetServiceRevision": {
            "arn": row.revision_arn,
            "requestedTaskCount": row.desired_count,
            "runningTaskCount": counts["running"],
            "pendingTaskCount": counts["pending"],
        },
        "status": row.lifecycle_status,
        "statusReason": row.status_reason,
        "deploymentConfiguration": configuration,
        "deploymentCircuitBreaker": {
            "status": ("TRIGGERED" if row.rollout_state == "FAILED" else "MONITORING")
            if enabled
            else "DISABLED",
            "failureCount": row.failed_tasks,
            "threshold": config.circuit_breaker_threshold(row.desired_count),  # as the scheduler counts
        },
    }
    if body.get("rollback"):
        result["rollback"] = body["rollback"]
    return {key: value for key, value in result.items() if value is not None}


def render_service_deployment_brief(row: Row[Any], service: Row[Any], cluster_arn: str) -> dict[str, Any]:
    brief = {
        "serviceDeploymentArn": row.arn,
        "serviceArn": service.arn,
        "clusterArn": cluster_arn,
        "startedAt": row.created_at,
        "createdAt": row.created_at,
        "finishedAt": row.finished_at,
        "targetServiceRevisionArn": row.revision_arn,
        "status": row.lifecycle_status,
        "statusReason": row.status_reason,
    }
    return {key: value for key, value in brief.items() if value is not None}


def render_service_revision(
    row: Row[Any], service: Row[Any], cluster_arn: str, definition: dict[str, Any] | None
) -> dict[str, Any]:
    body = row.body
    revision: dict[str, Any] = {
        "serviceRevisionArn": row.revision_arn,
        "serviceArn": service.arn,
        "clusterArn": cluster_arn,
        "taskDefinition": row.task_definition_arn,
        "launchType": body.get("launchType"),
        "createdAt": row.created_at,
        "containerImages": [
            {"containerName": c["name"], "image": c.get("image", "")}
            for c in (definition or {}).get("containerDefinitions", [])
        ],
        "guardDutyEnabled": False,
    }
    for name in (
        "platformVersion",
        "networkConfiguration",
        "capacityProviderStrategy",
        "loadBalancers",
        "serviceRegistries",
    ):
        if body.get(name) is not None:
            revision[name] = body[name]
    return {key: value for key, value in revision.items() if value is not None}
