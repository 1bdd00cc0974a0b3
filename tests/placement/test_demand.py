"""A task's demand, computed once from its definition and the request's overrides."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.placement.demand import task_demand


def container(name: str = "app", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": "nginx", **fields}


CASES = {
    "containers add up": (
        {"containerDefinitions": [container("a", cpu=128, memory=256), container("b", cpu=64, memory=128)]},
        None,
        (192, 384),
    ),
    "a soft limit is what ECS reserves": (
        {"containerDefinitions": [container(memory=1024, memoryReservation=256)]},
        None,
        (0, 256),
    ),
    "task-level sizes win": (
        {"cpu": "1024", "memory": "2048", "containerDefinitions": [container(cpu=128, memory=256)]},
        None,
        (1024, 2048),
    ),
    "overrides win over the definition": (
        {"cpu": "1024", "memory": "2048", "containerDefinitions": [container(memory=256)]},
        {"cpu": "512", "memory": "1024"},
        (512, 1024),
    ),
    "a container override": (
        {"containerDefinitions": [container(cpu=128, memory=256)]},
        {"containerOverrides": [{"name": "app", "cpu": 64, "memory": 64}]},
        (64, 64),
    ),
}


@pytest.mark.parametrize(("definition", "overrides", "sizes"), CASES.values(), ids=CASES.keys())
def test_cpu_and_memory(
    definition: dict[str, Any], overrides: dict[str, Any] | None, sizes: tuple[int, int]
) -> None:
    demand = task_demand(definition, overrides)
    assert (demand.cpu, demand.memory) == sizes


def test_static_host_ports_are_held_dynamic_ones_are_not() -> None:
    definition = {
        "containerDefinitions": [
            container(
                memory=64,
                portMappings=[
                    {"containerPort": 80, "hostPort": 8080},
                    {"containerPort": 53, "hostPort": 53, "protocol": "udp"},
                    {"containerPort": 9000},
                ],
            )
        ]
    }
    assert task_demand(definition).ports == frozenset({"tcp:8080", "udp:53"})


def test_in_host_mode_the_container_port_is_the_host_port() -> None:
    definition = {
        "networkMode": "host",
        "containerDefinitions": [container(memory=64, portMappings=[{"containerPort": 80}])],
    }
    assert task_demand(definition).ports == frozenset({"tcp:80"})


def test_gpus_group_and_required_attributes() -> None:
    definition = {
        "containerDefinitions": [container(memory=64, resourceRequirements=[{"type": "GPU", "value": "2"}])],
        "requiresAttributes": [{"name": "ecs.capability.docker-remote-api.1.19"}],
    }
    demand = task_demand(definition, group="family:web", launch_type="EXTERNAL")
    assert demand.gpus == 2
    assert demand.group == "family:web"
    assert demand.launch_type == "EXTERNAL"
    assert demand.required_attributes == (("ecs.capability.docker-remote-api.1.19", None),)
