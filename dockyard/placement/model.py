"""The immutable inputs of placement: what an instance has, what a task needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


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
        # Built field by field: dataclasses.replace costs twice as much, and placement calls
        # this for every task it places.
        return InstanceSnapshot(
            self.id,
            self.arn,
            self.ec2_instance_id,
            self.status,
            self.agent_connected,
            self.external,
            self.free_cpu - demand.cpu,
            self.free_memory - demand.memory,
            self.used_ports | demand.ports if demand.ports else self.used_ports,
            self.free_gpus[demand.gpus :] if demand.gpus else self.free_gpus,
            self.attributes,
            self.version,
            self.running_tasks_count + 1,
            self.registered_at,
            groups,
            self.agent_version,
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
    ("binpack(memory)", 512))``; lower scores win. ``others`` counts, per placed task, the other
    instances that could have taken it (the runners-up its scores beat).
    """

    chosen: tuple[InstanceSnapshot, ...]
    failures: tuple[Failure, ...]
    scores: tuple[tuple[tuple[str, float], ...], ...] = ()
    others: tuple[int, ...] = ()
