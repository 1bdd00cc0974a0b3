"""What one task needs from an instance, computed once from its definition and overrides."""

from __future__ import annotations

from typing import Any

from dockyard.placement.model import Demand


def _container_overrides(overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    items = overrides.get("containerOverrides", [])
    return {item["name"]: item for item in items if "name" in item}


def task_demand(
    task_definition: dict[str, Any],
    overrides: dict[str, Any] | None = None,
    *,
    launch_type: str = "EC2",
    group: str | None = None,
) -> Demand:
    """The CPU units, MiB, static host ports and GPUs a task of this definition holds.

    Task-level cpu/memory win when set; otherwise the containers' sum, where a container holds
    its soft limit (memoryReservation) when it has one, else its hard limit (memory), as ECS
    reserves it.
    """
    overrides = overrides or {}
    per_container = _container_overrides(overrides)
    host_network = task_definition.get("networkMode") in ("host", "awsvpc")
    cpu = memory = gpus = 0
    ports: set[str] = set()
    for container in task_definition.get("containerDefinitions", []):
        override = per_container.get(container.get("name", ""), {})
        cpu += int(override.get("cpu", container.get("cpu", 0)) or 0)
        reservation = override.get("memoryReservation", container.get("memoryReservation"))
        hard = override.get("memory", container.get("memory"))
        memory += int(reservation or hard or 0)
        for mapping in container.get("portMappings", []):
            host_port = mapping.get("hostPort") or (mapping.get("containerPort") if host_network else 0)
            if host_port:
                ports.add(f"{mapping.get('protocol', 'tcp')}:{host_port}")
        requirements = override.get("resourceRequirements", container.get("resourceRequirements", []))
        for requirement in requirements:
            if requirement.get("type") == "GPU":
                gpus += int(requirement["value"])
    if overrides.get("cpu") or task_definition.get("cpu"):
        cpu = int(overrides.get("cpu") or task_definition["cpu"])
    if overrides.get("memory") or task_definition.get("memory"):
        memory = int(overrides.get("memory") or task_definition["memory"])
    required = tuple(
        (item["name"], item.get("value")) for item in task_definition.get("requiresAttributes", [])
    )
    return Demand(
        cpu=cpu,
        memory=memory,
        ports=frozenset(ports),
        gpus=gpus,
        launch_type=launch_type,
        required_attributes=required,
        group=group,
    )
