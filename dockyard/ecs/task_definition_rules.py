"""Task definition rules: what RegisterTaskDefinition accepts, and what ECS adds to it.

``normalize(request)`` takes the request as the client sent it (wire member names, already
checked against the botocore shape) and returns the document Dockyard stores: every member
as given, never retyped, plus what ECS fills in on registration:

- container ``cpu: 0``, ``essential: true`` and empty ``portMappings``, ``environment``,
  ``mountPoints``, ``volumesFrom`` and ``systemControls`` lists;
- port mappings with ``protocol: tcp``, and ``hostPort = containerPort`` in the host and
  awsvpc network modes; a volume with no configuration gets ``host: {}``;
- task-level ``cpu`` and ``memory`` in CPU units and MiB ("1 vCPU" -> "1024");
- ``volumes`` and ``placementConstraints`` (empty when not given), ``compatibilities`` and
  ``requiresAttributes`` (see task_requirements).

``networkMode`` stays out when not given (ECS then runs the task in bridge mode but doesn't
return the member). A broken rule raises ClientException, ECS's error for the content of a
task definition, with ECS's wording where it is known; a malformed value raises
InvalidParameterException.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from dockyard.ecs import task_requirements, task_sizes
from dockyard.errors import ClientException

Document = dict[str, Any]

MAX_CONTAINERS = 10
MAX_PLACEMENT_CONSTRAINTS = 10
MIN_CONTAINER_MEMORY_MIB = 6  # Docker refuses smaller limits and reservations
MAX_DOCUMENT_BYTES = 64 * 1024
EPHEMERAL_STORAGE_GIB = (21, 200)
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")
_NAME_RULE = "Up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed."
_HOST_PORT_MODES = frozenset({"host", "awsvpc"})
_VOLUME_CONFIGURATIONS = (
    "host",
    "dockerVolumeConfiguration",
    "efsVolumeConfiguration",
    "fsxWindowsFileServerVolumeConfiguration",
    "s3filesVolumeConfiguration",
    "configuredAtLaunch",
)
# Container list members ECS returns empty when not given.
_EMPTY_LISTS = ("portMappings", "environment", "mountPoints", "volumesFrom", "systemControls")


@dataclass(frozen=True, slots=True)
class _Task:
    """What the per-container rules need to know about the task around them."""

    network_mode: str  # "bridge" when not given
    cpu: int | None
    memory: int | None
    volume_names: frozenset[str]


def check_family(family: str) -> None:
    if not NAME.match(family):
        raise ClientException(f"Invalid family name '{family}'. {_NAME_RULE}")


def _without_nulls(document: Document) -> Document:
    # A JSON null means "not given": leave it out rather than store it.
    return {key: value for key, value in document.items() if value is not None}


def normalize(request: Document) -> Document:
    """The task definition document ECS would store for ``request`` (tags left out)."""
    if len(orjson.dumps(request)) > MAX_DOCUMENT_BYTES:
        raise ClientException("The task definition is larger than the 64 KiB ECS allows.")
    document = _without_nulls({key: value for key, value in request.items() if key != "tags"})
    check_family(document["family"])
    cpu = task_sizes.parse_cpu(document["cpu"]) if "cpu" in document else None
    memory = task_sizes.parse_memory(document["memory"]) if "memory" in document else None
    if cpu is not None and not task_sizes.TASK_CPU_RANGE[0] <= cpu <= task_sizes.TASK_CPU_RANGE[1]:
        low, high = task_sizes.TASK_CPU_RANGE
        raise ClientException(
            f"Invalid 'cpu' setting for task. The value must be between {low} and {high} CPU units."
        )
    volumes = _volumes(document.get("volumes") or [])
    task = _Task(
        network_mode=document.get("networkMode", "bridge"),
        cpu=cpu,
        memory=memory,
        volume_names=frozenset(volume["name"] for volume in volumes),
    )
    containers = _containers(document["containerDefinitions"], task)
    _check_task_options(document, containers)
    document.update(
        containerDefinitions=containers,
        volumes=volumes,
        placementConstraints=document.get("placementConstraints") or [],
    )
    if cpu is not None:
        document["cpu"] = str(cpu)
    if memory is not None:
        document["memory"] = str(memory)
    document["compatibilities"] = task_requirements.compatibilities(document)
    document["requiresAttributes"] = task_requirements.requires_attributes(document)
    return document


def _volumes(given: list[Document]) -> list[Document]:
    volumes: list[Document] = []
    seen: set[str] = set()
    for volume in given:
        volume = _without_nulls(volume)
        name = volume.get("name")
        if not name:
            raise ClientException("Volume.name should not be null or empty.")
        if not NAME.match(name):
            raise ClientException(f"Invalid volume name '{name}'. {_NAME_RULE}")
        if name in seen:
            raise ClientException(f"Volume names must be unique: '{name}' is given twice.")
        seen.add(name)
        if not any(key in volume for key in _VOLUME_CONFIGURATIONS):
            volume["host"] = {}  # a bind mount whose host path Docker chooses
        efs = volume.get("efsVolumeConfiguration")
        if efs is not None:
            volume["efsVolumeConfiguration"] = {"rootDirectory": "/", **efs}  # ECS's default
        volumes.append(volume)
    return volumes


def _containers(given: list[Document], task: _Task) -> list[Document]:
    if not given:
        raise ClientException("Container list cannot be empty.")
    if len(given) > MAX_CONTAINERS:
        raise ClientException(f"Too many containers: a task definition can have at most {MAX_CONTAINERS}.")
    containers = [_container(container, task) for container in given]
    names = [container["name"] for container in containers]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ClientException(f"Container names must be unique: '{duplicates[0]}' is given twice.")
    if not any(container["essential"] for container in containers):
        raise ClientException("Task definition doesn't have any essential container.")
    by_name = {container["name"]: container for container in containers}
    for container in containers:
        _check_references(container, by_name)
    _check_no_dependency_cycle(by_name)
    _check_totals(containers, task)
    return containers


def _container(given: Document, task: _Task) -> Document:
    container = _without_nulls(given)
    name = container.get("name")
    if not name:
        raise ClientException("Container.name should not be null or empty.")
    if not NAME.match(name):
        raise ClientException(f"Invalid container name '{name}'. {_NAME_RULE}")
    if not container.get("image"):
        raise ClientException("Container.image should not be null or empty.")
    container.setdefault("cpu", 0)
    container.setdefault("essential", True)
    for key in _EMPTY_LISTS:
        container.setdefault(key, [])
    if container["cpu"] < 0:
        raise ClientException(f"Invalid 'cpu' setting for container '{name}'.")
    _check_memory(container, task)
    container["portMappings"] = [
        _port_mapping(name, mapping, task.network_mode) for mapping in container["portMappings"]
    ]
    _check_network_options(container, task.network_mode)
    for mount in container["mountPoints"]:
        if mount.get("sourceVolume") not in task.volume_names:
            raise ClientException(
                f"Invalid 'mountPoints' setting for container '{name}'. "
                f"Unknown volume '{mount.get('sourceVolume')}'."
            )
    return container


def _check_memory(container: Document, task: _Task) -> None:
    name = container["name"]
    memory, reservation = container.get("memory"), container.get("memoryReservation")
    if memory is None and reservation is None and task.memory is None:
        raise ClientException(
            f"Invalid setting for container '{name}'. "
            "At least one of 'memory' or 'memoryReservation' must be specified."
        )
    for member, value in (("memory", memory), ("memoryReservation", reservation)):
        if value is not None and value < MIN_CONTAINER_MEMORY_MIB:
            raise ClientException(
                f"Invalid '{member}' setting for container '{name}'. "
                f"The minimum is {MIN_CONTAINER_MEMORY_MIB} MiB."
            )
    if memory is not None and reservation is not None and reservation > memory:
        raise ClientException(
            f"Invalid setting for container '{name}'. "
            "'memory' must be greater than or equal to 'memoryReservation'."
        )
    if memory is not None and task.memory is not None and memory > task.memory:
        raise ClientException(
            f"Invalid 'memory' setting for container '{name}'. "
            "The container's 'memory' cannot be greater than the task's 'memory'."
        )


def _port_mapping(container: str, given: Document, network_mode: str) -> Document:
    mapping = _without_nulls(given)
    mapping.setdefault("protocol", "tcp")
    container_port, host_port = mapping.get("containerPort"), mapping.get("hostPort")
    if network_mode == "none":
        raise ClientException("Port mappings are not supported when networkMode=none.")
    if container_port is None and "containerPortRange" not in mapping:
        raise ClientException(f"Invalid 'containerPort' setting for container '{container}'.")
    if container_port is not None and not 1 <= container_port <= 65535:
        raise ClientException(f"Invalid 'containerPort' setting for container '{container}'.")
    if host_port is not None and not 0 <= host_port <= 65535:
        raise ClientException(f"Invalid 'hostPort' setting for container '{container}'.")
    if network_mode in _HOST_PORT_MODES and container_port is not None:
        # The task owns the host's (or its ENI's) ports: no dynamic mapping exists there.
        if not host_port:
            mapping["hostPort"] = container_port
        elif host_port != container_port:
            raise ClientException(
                f"When networkMode={network_mode}, the host ports and container ports in port "
                "mappings must match."
            )
    return mapping


def _check_network_options(container: Document, network_mode: str) -> None:
    if container.get("links") and network_mode != "bridge":
        raise ClientException(f"Links are not supported when networkMode={network_mode}.")
    if network_mode == "awsvpc":
        for member in ("hostname", "extraHosts"):
            if container.get(member):
                raise ClientException(f"The '{member}' parameter is not supported when networkMode=awsvpc.")


def _check_references(container: Document, by_name: dict[str, Document]) -> None:
    """links, volumesFrom and dependsOn must name other containers of the same task."""
    name = container["name"]

    def other(target: Any, member: str) -> Document:
        if target == name or target not in by_name:
            raise ClientException(
                f"Invalid '{member}' setting for container '{name}'. Unknown container '{target}'."
            )
        return by_name[target]

    for link in container.get("links") or []:
        other(str(link).split(":", 1)[0], "links")
    for source in container["volumesFrom"]:
        other(source.get("sourceContainer"), "volumesFrom")
    for dependency in container.get("dependsOn") or []:
        target = other(dependency.get("containerName"), "dependsOn")
        condition = dependency.get("condition")
        if condition in ("SUCCESS", "COMPLETE") and target["essential"]:
            raise ClientException(
                "A dependency container with SUCCESS or COMPLETE condition cannot be an essential container."
            )
        if condition == "HEALTHY" and target.get("healthCheck") is None:
            raise ClientException(
                f"Invalid 'dependsOn' setting for container '{name}'. Container "
                f"'{target['name']}' has no healthCheck, so it can never be HEALTHY."
            )


def _check_no_dependency_cycle(by_name: dict[str, Document]) -> None:
    # A cycle in dependsOn would leave every container of it waiting forever.
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise ClientException(f"Container dependencies contain a cycle: {cycle}.")
        if name in done:
            return
        for dependency in by_name[name].get("dependsOn") or []:
            visit(dependency["containerName"], [*path, name])
        done.add(name)

    for name in by_name:
        visit(name, [])


def _check_totals(containers: list[Document], task: _Task) -> None:
    if task.memory is not None:
        reserved = sum(c.get("memoryReservation") or c.get("memory") or 0 for c in containers)
        member = "memoryReservation" if any("memoryReservation" in c for c in containers) else "memory"
        if reserved > task.memory:
            raise ClientException(
                f"The sum of all container '{member}' values cannot be greater than the value "
                "of the task 'memory'."
            )
    if task.cpu is not None and sum(c["cpu"] for c in containers) > task.cpu:
        raise ClientException(
            "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'."
        )


def _check_task_options(document: Document, containers: list[Document]) -> None:
    constraints = document.get("placementConstraints") or []
    if len(constraints) > MAX_PLACEMENT_CONSTRAINTS:
        raise ClientException(
            f"Too many placement constraints: at most {MAX_PLACEMENT_CONSTRAINTS} are allowed."
        )
    for constraint in constraints:
        if constraint.get("type") != "memberOf" or not constraint.get("expression"):
            raise ClientException(
                "A task definition placement constraint must be of type 'memberOf' and have an expression."
            )
    proxy = document.get("proxyConfiguration") or {}
    names = {container["name"] for container in containers}
    if proxy and proxy.get("containerName") not in names:
        raise ClientException(
            f"Invalid 'proxyConfiguration' setting. Unknown container '{proxy['containerName']}'."
        )
    if "FARGATE" in (document.get("requiresCompatibilities") or []) and document.get("pidMode") == "host":
        raise ClientException(
            "Tasks using the Fargate launch type do not support pidMode 'host'. "
            "The supported value for pidMode is 'task'."
        )
    storage = document.get("ephemeralStorage")
    low, high = EPHEMERAL_STORAGE_GIB
    if storage is not None and not low <= storage["sizeInGiB"] <= high:
        raise ClientException(
            f"Invalid 'ephemeralStorage' setting. The size must be between {low} and {high} GiB."
        )
