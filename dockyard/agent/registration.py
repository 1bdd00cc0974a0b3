"""RegisterContainerInstance and DiscoverPollEndpoint, as docs/agent-protocol.md §1 says.

The request is built by a pure function (tested without a server); the calls go through
an ordinary boto3 ECS client, signed with the standard AWS credential environment.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from dockyard.agent.drivers import DriverInfo
from dockyard.agent.host import HostFacts
from dockyard.agent.version import AGENT_HASH, agent_version

log = logging.getLogger(__name__)

RESERVED_TCP_PORTS = (22, 2375, 2376, 51678, 51679)  # as the ECS agent reserves them
GONE_CODES = {"ClientException", "InvalidParameterException"}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
FARGATE_CAPACITY = "dockyard.capacity.fargate"  # placement sends FARGATE tasks only here
TASK_ENI = "ecs.capability.task-eni"  # every Fargate task is awsvpc; it runs in bridge mode here


@dataclass(frozen=True)
class Registration:
    instance_arn: str
    cluster_arn: str
    endpoint: str  # the poll endpoint's base URL


def parse_ports(text: str | None) -> tuple[int, ...]:
    """``"[22, 80]"`` (ECS_RESERVED_PORTS' JSON array) or ``"22,80"`` -> (22, 80)."""
    items = (text or "").strip().strip("[]").replace(",", " ").split()
    ports = []
    for item in items:
        if not item.isdigit() or not 0 < int(item) < 65536:
            raise ValueError(f"not a port: {item!r}")
        ports.append(int(item))
    return tuple(ports)


def control_plane_port(endpoint: str) -> int | None:
    """The control plane's port when it runs on this host (its port is then taken here)."""
    parts = urlsplit(endpoint)
    if parts.hostname in LOOPBACK:
        return parts.port or (443 if parts.scheme == "https" else 80)
    return None


def registration_params(
    *,
    cluster: str,
    facts: HostFacts,
    driver: DriverInfo,
    instance_id: str,
    region: str,
    availability_zone: str,
    private_ip: str,
    endpoint: str,
    instance_arn: str | None = None,
    own_ports: Iterable[int] = (),
    reserved_tcp: Iterable[int] = (),
    reserved_udp: Iterable[int] = (),
    account_id: str = "",
    fargate_capacity: bool = False,
    instance_type: str | None = None,
) -> dict[str, Any]:
    """The RegisterContainerInstance request for this host.

    The instance reserves ECS's default ports, the control plane's when it runs on this host,
    and ``reserved_tcp`` / ``reserved_udp`` (``--reserved-ports``, ECS_RESERVED_PORTS);
    ``own_ports`` are host ports our own containers hold: they are accounted to their tasks,
    so they are never reported as taken by the host. ``fargate_capacity`` offers the host for
    FARGATE tasks: ``dockyard.capacity.fargate=true``, and ``ecs.capability.task-eni`` (which
    every awsvpc task requires) whatever the driver."""
    own = set(own_ports)
    tcp = (set(RESERVED_TCP_PORTS) | set(reserved_tcp)) - own
    plane = control_plane_port(endpoint)
    if plane is not None:
        tcp.add(plane)
    udp = set(reserved_udp) - own
    document = {
        "instanceId": instance_id,
        "instanceType": instance_type or f"dockyard.{driver.name}",
        "availabilityZone": availability_zone,
        "region": region,
        "imageId": "ami-dockyard",
        "privateIp": private_ip,
        "accountId": account_id,
        "architecture": facts.architecture,
    }
    attributes = {
        "ecs.os-type": facts.os_type,
        "ecs.cpu-architecture": facts.architecture,
        "ecs.instance-type": document["instanceType"],
        "ecs.availability-zone": availability_zone,
        "dockyard.driver": driver.name,
        "dockyard.hostname": facts.hostname,
    }
    capabilities = list(driver.capabilities)
    if fargate_capacity:
        attributes[FARGATE_CAPACITY] = "true"
        capabilities += [TASK_ENI] if TASK_ENI not in capabilities else []
    params: dict[str, Any] = {
        "cluster": cluster,
        "instanceIdentityDocument": json.dumps(document),
        "totalResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": facts.cpu_units},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": facts.memory_mib},
            {"name": "PORTS", "type": "STRINGSET", "stringSetValue": [str(p) for p in sorted(tcp)]},
            {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": [str(p) for p in sorted(udp)]},
        ],
        "versionInfo": {
            "agentVersion": agent_version(),
            "agentHash": AGENT_HASH,
            "dockerVersion": driver.version,
        },
        "attributes": [{"name": name, "value": value} for name, value in attributes.items()]
        + [{"name": capability} for capability in capabilities],
    }
    if instance_arn:
        params["containerInstanceArn"] = instance_arn
    return params


def cluster_arn_of(instance_arn: str, cluster: str) -> str:
    """``arn:…:cluster/NAME`` from a container instance ARN of the new (cluster-scoped) form."""
    prefix, _, resource = instance_arn.partition(":container-instance/")
    parts = resource.split("/")
    if prefix and len(parts) == 2:
        return f"{prefix}:cluster/{parts[0]}"
    return cluster


def instance_gone(error: ClientError) -> bool:
    """Did the control plane refuse because it no longer knows our container instance?"""
    return error.response.get("Error", {}).get("Code") in GONE_CODES


def register(client: Any, params: dict[str, Any]) -> str:
    """Register (again); a stored ARN the control plane refuses is dropped for a fresh one."""
    try:
        reply = client.register_container_instance(**params)
    except ClientError as error:
        if "containerInstanceArn" not in params or not instance_gone(error):
            raise
        log.warning(
            "the control plane refused our container instance ARN (%s); registering as a new instance", error
        )
        params = {k: v for k, v in params.items() if k != "containerInstanceArn"}
        reply = client.register_container_instance(**params)
    return str(reply["containerInstance"]["containerInstanceArn"])


def discover(client: Any, cluster: str, instance_arn: str) -> str:
    """The poll endpoint's base URL, always ending in a slash."""
    reply = client.discover_poll_endpoint(cluster=cluster, containerInstance=instance_arn)
    endpoint = str(reply["endpoint"])
    return endpoint if endpoint.endswith("/") else endpoint + "/"
