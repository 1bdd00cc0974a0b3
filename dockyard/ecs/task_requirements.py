"""What a task definition asks of the place it runs: launch types and instance attributes.

Two things ECS derives when it registers a task definition, and placement reads later:

- ``compatibilities``: the launch types the definition can run on. A launch type the client
  lists in ``requiresCompatibilities`` must fit, or registration fails with the first reason
  it doesn't; the others are added when they happen to fit.
- ``requiresAttributes``: container instance attributes (agent capabilities) an instance
  must advertise to take the task. The tables below are deliberately small: one row per
  feature whose absence would make the agent fail the task, not ECS's full list.

Both work on the normalized document (wire member names, defaults applied).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from dockyard.ecs.task_sizes import fargate_size_exists
from dockyard.errors import ClientException

Document = dict[str, Any]
Check = Callable[[Document], bool]

# Order as ECS lists them: ["EXTERNAL", "EC2"] for bridge/host tasks, ["EC2", "FARGATE"] for
# tasks Fargate can run.
_LAUNCH_TYPE_ORDER = ("EXTERNAL", "EC2", "FARGATE", "MANAGED_INSTANCES")
_FARGATE_LOG_DRIVERS = frozenset({"awslogs", "splunk", "awsfirelens"})
_ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")


def _containers(document: Document) -> list[Document]:
    return list(document.get("containerDefinitions") or [])


def _cpu_memory(document: Document) -> tuple[int | None, int | None]:
    cpu, memory = document.get("cpu"), document.get("memory")
    return (int(cpu) if cpu else None, int(memory) if memory else None)


def _fargate_problems(document: Document) -> Iterator[str]:
    """Why Fargate can't run this task definition, most basic reason first."""
    if document.get("networkMode") != "awsvpc":
        yield "Fargate only supports network mode ‘awsvpc’."
    cpu, memory = _cpu_memory(document)
    if cpu is None:
        yield "Fargate requires that 'cpu' be defined at the task level."
    if memory is None:
        yield "Fargate requires that 'memory' be defined at the task level."
    if cpu is not None and memory is not None and not fargate_size_exists(cpu, memory):
        yield (
            f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. "
            "See the Amazon ECS documentation for the valid values."
        )
    if document.get("placementConstraints"):
        yield "Task definition placement constraints are not supported on Fargate."
    if document.get("ipcMode") is not None:
        yield "The 'ipcMode' parameter is not supported on Fargate."
    if document.get("pidMode") == "host":
        yield "The 'host' pidMode is not supported on Fargate."
    for volume in document.get("volumes") or []:
        if (volume.get("host") or {}).get("sourcePath") is not None:
            yield f"Volume '{volume.get('name')}': host source paths are not supported on Fargate."
        if volume.get("dockerVolumeConfiguration") is not None:
            yield f"Volume '{volume.get('name')}': Docker volumes are not supported on Fargate."
    for container in _containers(document):
        if container.get("privileged"):
            yield f"Container '{container['name']}': privileged mode is not supported on Fargate."
        driver = (container.get("logConfiguration") or {}).get("logDriver")
        if driver is not None and driver not in _FARGATE_LOG_DRIVERS:
            yield (
                f"Container '{container['name']}': log driver '{driver}' is not supported on "
                "Fargate (awslogs, splunk and awsfirelens are)."
            )


def _external_problems(document: Document) -> Iterator[str]:
    # External (ECS Anywhere) instances have no ENIs to give a task.
    if document.get("networkMode") == "awsvpc":
        yield "The 'awsvpc' network mode is not supported for the EXTERNAL launch type."


def _no_problems(document: Document) -> Iterator[str]:
    return iter(())


_PROBLEMS: dict[str, Callable[[Document], Iterator[str]]] = {
    "EC2": _no_problems,
    "EXTERNAL": _external_problems,
    "FARGATE": _fargate_problems,
    "MANAGED_INSTANCES": _no_problems,
}


def compatibilities(document: Document) -> list[str]:
    """The launch types the task definition is compatible with.

    Raises ClientException when one it requires (``requiresCompatibilities``) doesn't fit.
    MANAGED_INSTANCES is only listed when required: it is a capacity the account opts into.
    """
    required = list(document.get("requiresCompatibilities") or [])
    for launch_type in required:
        reason = next(_PROBLEMS[launch_type](document), None)
        if reason is not None:
            raise ClientException(reason)
    fits = {
        launch_type
        for launch_type in ("EC2", "EXTERNAL", "FARGATE")
        if next(_PROBLEMS[launch_type](document), None) is None
    }
    fits.update(required)
    return [launch_type for launch_type in _LAUNCH_TYPE_ORDER if launch_type in fits]


def _log_driver(container: Document) -> str | None:
    driver = (container.get("logConfiguration") or {}).get("logDriver")
    return str(driver) if driver else None


def _secret_sources(container: Document) -> set[str]:
    sources = set()
    for secret in container.get("secrets") or []:
        value_from = str(secret.get("valueFrom") or "")
        sources.add("asm" if ":secretsmanager:" in value_from else "ssm")
    return sources


def _ecr_image(container: Document) -> bool:
    return bool(_ECR_IMAGE.match(str(container.get("image") or "")))


_DOCKER_API = "com.amazonaws.ecs.capability.docker-remote-api."
# Attribute -> when a container needs it.
CONTAINER_ATTRIBUTES: dict[str, Check] = {
    _DOCKER_API + "1.18": lambda c: any(
        c.get(k) is not None for k in ("dockerLabels", "logConfiguration", "ulimits")
    ),
    _DOCKER_API + "1.19": lambda c: _log_driver(c) == "awslogs",
    _DOCKER_API + "1.21": lambda c: c.get("memoryReservation") is not None,
    _DOCKER_API + "1.24": lambda c: c.get("healthCheck") is not None,
    "ecs.capability.container-health-check": lambda c: c.get("healthCheck") is not None,
    "ecs.capability.container-ordering": lambda c: bool(c.get("dependsOn")),
    "com.amazonaws.ecs.capability.ecr-auth": _ecr_image,
    "com.amazonaws.ecs.capability.private-registry-authentication.secretsmanager": lambda c: (
        c.get("repositoryCredentials") is not None
    ),
    "ecs.capability.secrets.ssm.environment-variables": lambda c: "ssm" in _secret_sources(c),
    "ecs.capability.secrets.asm.environment-variables": lambda c: "asm" in _secret_sources(c),
}
# Attribute -> when the task as a whole needs it.
TASK_ATTRIBUTES: dict[str, Check] = {
    "com.amazonaws.ecs.capability.task-iam-role": lambda d: d.get("taskRoleArn") is not None,
    "ecs.capability.task-eni": lambda d: d.get("networkMode") == "awsvpc",
    "ecs.capability.execution-role-awslogs": lambda d: (
        d.get("executionRoleArn") is not None and any(_log_driver(c) == "awslogs" for c in _containers(d))
    ),
    "ecs.capability.execution-role-ecr-pull": lambda d: (
        d.get("executionRoleArn") is not None and any(_ecr_image(c) for c in _containers(d))
    ),
}


def requires_attributes(document: Document) -> list[dict[str, str]]:
    """The instance attributes the task needs, as ECS's ``requiresAttributes`` (by name)."""
    names = {name for name, needed in TASK_ATTRIBUTES.items() if needed(document)}
    for container in _containers(document):
        names.update(name for name, needed in CONTAINER_ATTRIBUTES.items() if needed(container))
        driver = _log_driver(container)
        if driver is not None:
            names.add(f"com.amazonaws.ecs.capability.logging-driver.{driver}")
    return [{"name": name} for name in sorted(names)]
