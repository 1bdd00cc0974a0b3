"""Small builders for agent tests: task frames, container definitions, container states."""

from __future__ import annotations

import secrets
from typing import Any

from dockyard.agent.reconcile import ContainerState
from dockyard.agent.spec import Dependency, TaskSpec, task_from_frame
from dockyard.agent.status import Condition, ContainerStatus, HealthStatus

IMAGE = "dockyard/busybox:latest"
CLUSTER_ARN = "arn:aws:ecs:us-east-1:000000000000:cluster/default"


def task_arn(task_id: str | None = None) -> str:
    return f"arn:aws:ecs:us-east-1:000000000000:task/default/{task_id or secrets.token_hex(16)}"


def container(name: str = "app", **fields: Any) -> dict[str, Any]:
    """A ContainerDefinition (busybox, essential) with ``fields`` on top."""
    return {"name": name, "image": IMAGE, "essential": True, **fields}


def task_frame(
    *containers: dict[str, Any],
    arn: str | None = None,
    desired: str = "RUNNING",
    family: str = "test",
    revision: int = 1,
    overrides: dict[str, Any] | None = None,
    **definition: Any,
) -> dict[str, Any]:
    """One task entry of a state frame."""
    containers = containers or (container(),)
    arn = arn or task_arn()
    return {
        "taskArn": arn,
        "desiredStatus": desired,
        "family": family,
        "revision": revision,
        "taskDefinition": {
            "family": family,
            "revision": revision,
            "containerDefinitions": list(containers),
            **definition,
        },
        "overrides": overrides or {},
        "containers": [
            {"name": c["name"], "containerArn": f"{arn}/container/{c['name']}"} for c in containers
        ],
        "clusterArn": CLUSTER_ARN,
        "launchType": "EC2",
    }


def task_spec(*containers: dict[str, Any], **options: Any) -> TaskSpec:
    return task_from_frame(task_frame(*containers, **options), CLUSTER_ARN)


def state_frame(*tasks: dict[str, Any], version: int = 1, instance_arn: str = "") -> dict[str, Any]:
    return {
        "type": "state",
        "version": version,
        "clusterArn": CLUSTER_ARN,
        "containerInstanceArn": instance_arn,
        "tasks": list(tasks),
    }


def state(
    name: str,
    known: ContainerStatus = ContainerStatus.NONE,
    *,
    deps: dict[str, str] | None = None,
    **fields: Any,
) -> ContainerState:
    """A ContainerState; ``deps`` maps dependency name to condition."""
    depends_on = tuple(Dependency(target, Condition(condition)) for target, condition in (deps or {}).items())
    if "health" in fields and isinstance(fields["health"], str):
        fields["health"] = HealthStatus(fields["health"])
    return ContainerState(name=name, known=known, depends_on=depends_on, **fields)
