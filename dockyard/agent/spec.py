"""What a state frame asks for, as immutable specs the task owner and the drivers read.

A container's spec keeps its ``ContainerDefinition`` as the control plane sent it (with the
task's ``containerOverrides`` applied), so the drivers read the ECS shape directly instead
of a hand-copied mirror of it; only what the reconcile logic needs gets a typed property.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.agent.status import Condition, TaskStatus

DEFAULT_STOP_TIMEOUT = 30.0  # seconds, as ECS_CONTAINER_STOP_TIMEOUT defaults on the ECS agent


@dataclass(frozen=True)
class Dependency:
    """``container`` must reach ``condition`` before the dependent container is created."""

    container: str
    condition: Condition


@dataclass(frozen=True, eq=False)
class ContainerSpec:
    """One container of a task: its name, ARN and merged definition."""

    name: str
    definition: Mapping[str, Any]
    container_arn: str = ""

    @property
    def image(self) -> str:
        return str(self.definition.get("image", ""))

    @property
    def essential(self) -> bool:
        return bool(self.definition.get("essential", True))

    @property
    def stop_timeout(self) -> float:
        value = self.definition.get("stopTimeout")
        return float(value) if value is not None else DEFAULT_STOP_TIMEOUT

    @property
    def start_timeout(self) -> float | None:
        """How long dependents wait for this container to meet their condition (None: forever)."""
        value = self.definition.get("startTimeout")
        return float(value) if value is not None else None

    @property
    def has_health_check(self) -> bool:
        return bool((self.definition.get("healthCheck") or {}).get("command"))

    @property
    def depends_on(self) -> tuple[Dependency, ...]:
        """Explicit ``dependsOn`` plus the START ordering that links and volumesFrom imply."""
        found: dict[str, Dependency] = {}
        for item in self.definition.get("dependsOn") or ():
            name = item["containerName"]
            found[name] = Dependency(name, Condition(item.get("condition", "START")))
        implied = [link.split(":", 1)[0] for link in self.definition.get("links") or ()]
        implied += [item["sourceContainer"] for item in self.definition.get("volumesFrom") or ()]
        for name in implied:
            found.setdefault(name, Dependency(name, Condition.START))
        return tuple(found.values())


@dataclass(frozen=True, eq=False)
class TaskSpec:
    """One task of a state frame."""

    arn: str
    cluster_arn: str
    desired: TaskStatus
    family: str
    revision: int
    task_definition: Mapping[str, Any]
    containers: tuple[ContainerSpec, ...]
    overrides: Mapping[str, Any] = field(default_factory=dict)
    created_at: float | None = None

    @property
    def task_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def network_mode(self) -> str:
        return str(self.task_definition.get("networkMode") or "bridge")

    @property
    def volumes(self) -> list[Mapping[str, Any]]:
        return list(self.task_definition.get("volumes") or ())

    def container(self, name: str) -> ContainerSpec:
        for container in self.containers:
            if container.name == name:
                return container
        raise KeyError(name)


def apply_overrides(definition: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """The container definition with one ``ContainerOverride`` applied, as RunTask promises:
    command, cpu, memory and memoryReservation replace; environment merges by name."""
    merged = dict(definition)
    if not override:
        return merged
    for key in ("command", "cpu", "memory", "memoryReservation"):
        if override.get(key) is not None:
            merged[key] = override[key]
    if override.get("environment"):
        environment = {i["name"]: i.get("value", "") for i in merged.get("environment") or ()}
        environment.update({i["name"]: i.get("value", "") for i in override["environment"]})
        merged["environment"] = [{"name": k, "value": v} for k, v in environment.items()]
    return merged


def task_from_frame(task: Mapping[str, Any], cluster_arn: str = "") -> TaskSpec:
    """Build a TaskSpec from one entry of a state frame's ``tasks``; KeyError if it is malformed."""
    definition = task.get("taskDefinition") or {}
    overrides = task.get("overrides") or {}
    by_name = {item["name"]: item for item in overrides.get("containerOverrides") or ()}
    arns = {item["name"]: item.get("containerArn", "") for item in task.get("containers") or ()}
    containers = tuple(
        ContainerSpec(
            name=item["name"],
            definition=apply_overrides(item, by_name.get(item["name"])),
            container_arn=arns.get(item["name"], ""),
        )
        for item in definition.get("containerDefinitions") or ()
    )
    return TaskSpec(
        arn=task["taskArn"],
        cluster_arn=task.get("clusterArn") or cluster_arn,
        desired=TaskStatus.parse_desired(str(task.get("desiredStatus", "RUNNING"))),
        family=str(task.get("family") or definition.get("family", "")),
        revision=int(task.get("revision") or definition.get("revision") or 0),
        task_definition=definition,
        containers=containers,
        overrides=overrides,
        created_at=task.get("createdAt"),
    )
