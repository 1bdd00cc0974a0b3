"""Feasibility filters: each answers "can this instance take this task?" with an ECS reason.

A filter is a small object with a stage ``name``, and ``reject(instance, request)`` that gives
None when the instance can take one more task of the request, else the ECS failure reason
(``RESOURCE:MEMORY``, ``AGENT``, ``ATTRIBUTE``...). ``applies(request)`` lets the pipeline
drop a filter that can't reject anything for this request (no GPUs asked, no static ports),
so per-instance work is only what the request needs.

``DEFAULT_FILTERS`` lists the cheap checks, cheapest and most common first; the placement
constraints (``constraints``) run after them. A rejected instance carries the reason of the
first filter that said no, so any failed placement can be explained.
"""

from __future__ import annotations

from typing import Protocol

from dockyard.placement.model import InstanceSnapshot, PlacementRequest


class Filter(Protocol):
    name: str

    def applies(self, request: PlacementRequest) -> bool:
        """False when this filter accepts every instance for this request."""

    def reject(self, instance: InstanceSnapshot, request: PlacementRequest) -> str | None:
        """None when the instance can take one more task, else the ECS failure reason."""


class Always:
    """Base for filters that check every request."""

    def applies(self, request: PlacementRequest) -> bool:
        return True


class Active(Always):
    name = "status"

    def reject(self, instance: InstanceSnapshot, request: PlacementRequest) -> str | None:
        return None if instance.status == "ACTIVE" else "INACTIVE"


class AgentConnected(Always):
    name = "agentConnected"

    def reject(self, instance: InstanceSnapshot, request: PlacementRequest) -> str | None:
        return None if instance.agent_connected else "AGENT"


class LaunchType(Always):
    """EXTERNAL tasks go to ECS Anywhere instances only, EC2 tasks to the others."""

    name = "launchType"

    def reject(self, instance: InstanceSnapshot, request: PlacementRequest) -> str | None:
        launch_type = request.demand.launch_type
        if launch_type == "EXTERNAL":
            return None if instance.external else "LaunchType"
        if launch_type == "FARGATE":
            fargate = instance.attributes.get("dockyard.capacity.fargate") == "true"
            return None if fargate else "LaunchType"
        return "LaunchType" if instance.external else None


class Cpu(Always):
    name = "cpu"

    def reject(self, instance: InstanceSnapshot, request: PlacementRequest) -> str | None:
        return None if request.demand.cpu <= instance.free_cpu else "RESOURCE:CPU"


class Memory(Always):
    name = "memory"

    def reject(self, instance: InstanceSnapshot, request: PlacementRequest) -> str | None:
        return None if request.demand.memory <= instance.free_memory else "RESOURCE:MEMORY"


class Ports:
    name = "ports"

    def applies(self, request: PlacementRequest) -> bool:
        return bool(request.demand.ports)

    def reject(self, instance: InstanceSnapshot, request: PlacementRequest) -> str | None:
        return "RESOURCE:PORTS" if request.demand.ports & instance.used_ports else None


class Gpus:
    name = "gpus"

    def applies(self, request: PlacementRequest) -> bool:
        return request.demand.gpus > 0

    def reject(self, instance: InstanceSnapshot, request: PlacementRequest) -> str | None:
        return None if request.demand.gpus <= len(instance.free_gpus) else "RESOURCE:GPU"


class RequiredAttributes:
    """The task definition's requiresAttributes must all be on the instance."""

    name = "requiresAttributes"

    def applies(self, request: PlacementRequest) -> bool:
        return bool(request.demand.required_attributes)

    def reject(self, instance: InstanceSnapshot, request: PlacementRequest) -> str | None:
        attributes = instance.attributes
        for name, value in request.demand.required_attributes:
            if name not in attributes or (value is not None and attributes[name] != value):
                return "ATTRIBUTE"
        return None


DEFAULT_FILTERS: tuple[Filter, ...] = (
    Active(),
    AgentConnected(),
    LaunchType(),
    Memory(),
    Cpu(),
    Gpus(),
    Ports(),
    RequiredAttributes(),
)
