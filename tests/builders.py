"""Small builders for the requests tests make again and again."""

from __future__ import annotations

import json
import secrets
from typing import Any


def identity_document(
    instance_type: str = "m5.large", zone: str = "us-east-1a", instance_id: str | None = None
) -> str:
    return json.dumps(
        {
            "instanceId": instance_id or "i-" + secrets.token_hex(9)[:17],
            "instanceType": instance_type,
            "availabilityZone": zone,
            "region": zone[:-1],
            "imageId": "ami-0123456789abcdef0",
        }
    )


def register_instance(
    ecs: Any,
    *,
    cluster: str = "default",
    cpu: int = 2048,
    memory: int = 4096,
    ports: tuple[str, ...] = ("22",),
    zone: str = "us-east-1a",
    instance_type: str = "m5.large",
    attributes: list[dict[str, str]] | None = None,
    instance_id: str | None = None,
    agent_version: str = "0.9.0",
    gpus: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Register a container instance as an agent would (or a fleet simulator does)."""
    resources: list[dict[str, Any]] = [
        {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
        {"name": "PORTS", "type": "STRINGSET", "stringSetValue": list(ports)},
        {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
    ]
    if gpus:
        resources.append({"name": "GPU", "type": "STRINGSET", "stringSetValue": list(gpus)})
    return dict(
        ecs.register_container_instance(
            cluster=cluster,
            totalResources=resources,
            instanceIdentityDocument=identity_document(instance_type, zone, instance_id),
            versionInfo={
                "agentVersion": agent_version,
                "agentHash": "test",
                "dockerVersion": "DockerVersion: 24.0",
            },
            attributes=attributes or [],
        )["containerInstance"]
    )


def container(
    name: str = "app", *, image: str = "dockyard/busybox", memory: int | None = 128, **extra: Any
) -> dict[str, Any]:
    definition: dict[str, Any] = {"name": name, "image": image, **extra}
    if memory is not None:
        definition["memory"] = memory
    return definition


def register_task_definition(
    ecs: Any, family: str = "app", containers: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return dict(
        ecs.register_task_definition(
            family=family, containerDefinitions=containers or [container()], **extra
        )["taskDefinition"]
    )
