"""Small builders for placement tests: an instance, a demand, a request, in one line each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.placement.model import Demand, InstanceSnapshot, PlacementRequest

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def instance(
    id: int = 1,
    *,
    cpu: int = 2048,
    memory: int = 4096,
    zone: str | None = "us-east-1a",
    instance_type: str = "t2.small",
    attributes: Mapping[str, str | None] | None = None,
    groups: Mapping[str, int] | None = None,
    ports: frozenset[str] = frozenset(),
    gpus: tuple[str, ...] = (),
    **fields: Any,
) -> InstanceSnapshot:
    """An ACTIVE, connected EC2 instance with the usual built-in attributes."""
    built_in: dict[str, str | None] = {"ecs.instance-type": instance_type, "ecs.os-type": "linux"}
    if zone is not None:
        built_in["ecs.availability-zone"] = zone
    values: dict[str, Any] = dict(
        id=id,
        arn=f"arn:aws:ecs:us-east-1:000000000000:container-instance/c/{id}",
        ec2_instance_id=f"i-{id:08x}",
        status="ACTIVE",
        agent_connected=True,
        external=False,
        free_cpu=cpu,
        free_memory=memory,
        used_ports=ports,
        free_gpus=gpus,
        attributes={**built_in, **(attributes or {})},
        version=1,
        task_groups=dict(groups or {}),
    )
    values.update(fields)
    return InstanceSnapshot(**values)


def demand(
    cpu: int = 256, memory: int = 512, *, ports: frozenset[str] = frozenset(), **fields: Any
) -> Demand:
    return Demand(cpu=cpu, memory=memory, ports=ports, **{"group": "family:web", **fields})


def request(
    count: int = 1,
    *,
    constraints: tuple[Mapping[str, str], ...] = (),
    strategies: tuple[Mapping[str, str], ...] = (),
    **demand_fields: Any,
) -> PlacementRequest:
    return PlacementRequest(demand(**demand_fields), count, constraints, strategies)


def member_of(expression: str) -> dict[str, str]:
    return {"type": "memberOf", "expression": expression}


DISTINCT = {"type": "distinctInstance"}


def spread(field: str) -> dict[str, str]:
    return {"type": "spread", "field": field}


def binpack(field: str) -> dict[str, str]:
    return {"type": "binpack", "field": field}


RANDOM = {"type": "random"}
