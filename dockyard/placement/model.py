"""The immutable inputs of placement: what an instance has, what a task needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace


@dataclass(frozen=True, slots=True)
class Demand:
    """What one task of a request needs, computed once per request."""

    cpu: int
    memory: int
    ports: frozenset[str]  # static host ports, "tcp:80"
    gpus: int = 0
    launch_type: str = "EC2"
    required_attributes: tuple[tuple[str, str | None], ...] = ()  # (name, value or None)
    group: str | None = None


@dataclass(frozen=True, slots=True)
class InstanceSnapshot:
    """One container instance as placement sees it at the start of a request."""

    id: int
    arn: str
    ec2_instance_id: str
    status: str
    agent_connected: bool
    external: bool
    free_cpu: int
    free_memory: int
    used_ports: frozenset[str]
    free_gpus: tuple[str, ...]
    attributes: Mapping[str, str | None]
    version: int
    running_tasks_count: int = 0
    registered_at: float = 0.0
    task_groups: Mapping[str, int] = field(default_factory=dict)  # group -> tasks desired RUNNING
    agent_version: str | None = None  # "1.14.5", for agentVersion in expressions

    def take(self, demand: Demand) -> InstanceSnapshot:
        """This instance after it accepted one task of ``demand``."""
        groups = dict(self.task_groups)
        if demand.group:
            groups[demand.group] = groups.get(demand.group, 0) + 1
        return replace(
            self,
            free_cpu=self.free_cpu - demand.cpu,
            free_memory=self.free_memory - demand.memory,
            used_ports=self.used_ports | demand.ports,
            free_gpus=self.free_gpus[demand.gpus :],
            running_tasks_count=self.running_tasks_count + 1,
            task_groups=groups,
        )


@dataclass(frozen=True, slots=True)
class PlacementRequest:
    """Place ``count`` tasks of ``demand`` under the request's constraints and strategies.

    ``constraints`` and ``strategies`` are the ECS shapes as given (task definition
    constraints first, then the request's), e.g. ``{"type": "memberOf", "expression": ...}``
    and ``{"type": "binpack", "field": "memory"}``.
    """

    demand: Demand
    count: int = 1
    constraints: tuple[Mapping[str, str], ...] = ()
    strategies: tuple[Mapping[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a task could not be placed: an ECS failure reason, on an instance when known."""

    reason: str
    arn: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class PlacementResult:
    """The instance chosen for each task placed (in order) and the failures of the rest.

    ``scores`` explains each choice: per placed task, the (stage name, score) of every
    strategy that ranked it, e.g. ``(("spread(attribute:ecs.availability-zone)", 0),
    ("binpack(memory)", 512))``; lower scores win.
    """

    chosen: tuple[InstanceSnapshot, ...]
    failures: tuple[Failure, ...]
    scores: tuple[tuple[tuple[str, float], ...], ...] = ()
