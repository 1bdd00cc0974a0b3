"""Translate an ECS container definition into a Docker Engine create request (pure).

The result holds keyword arguments for the Docker SDK's low-level ``create_container`` and
``create_host_config``, plus the named volumes to make sure of first. Keeping this free of
I/O lets every field mapping be tested without an engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.agent import labels as names
from dockyard.agent.drivers import DriverError
from dockyard.agent.spec import ContainerSpec, TaskSpec

NANOSECONDS = 1_000_000_000
MIN_CPU_SHARES = 2  # the smallest share the kernel takes; ECS gives it to cpu=0 containers


@dataclass(frozen=True)
class VolumeRequest:
    """A Docker named volume a container mounts, made on demand."""

    name: str
    driver: str = "local"
    driver_opts: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    create: bool = True  # False: a shared volume without autoprovision must already exist


@dataclass
class DockerCreate:
    name: str
    image: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    volumes: list[VolumeRequest] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _short(text: str, limit: int = 60) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 9] + "-" + hashlib.sha1(text.encode()).hexdigest()[:8]


def docker_name(task: TaskSpec, container_name: str) -> str:
    """A deterministic container name: Docker itself then refuses a duplicate."""
    return f"ecs-{_short(task.family)}-{task.revision}-{_short(container_name)}-{task.task_id}"


def task_volume_name(task: TaskSpec, volume_name: str) -> str:
    return f"ecs-{task.task_id}-{_short(volume_name)}"


def _mebibytes(value: Any) -> str:
    return f"{int(value)}m"


def network_mode(task: TaskSpec, warnings: list[str]) -> str:
    mode = task.network_mode
    if mode == "awsvpc":
        warnings.append("networkMode awsvpc is not supported here; the task uses bridge")
        return "bridge"
    if mode not in ("bridge", "host", "none"):
        warnings.append(f"networkMode {mode} is not supported; the task uses bridge")
        return "bridge"
    return mode


def container_ports(container: ContainerSpec) -> list[tuple[int, str, int | None]]:
    """(container port, protocol, host port or None for a dynamic one) per port mapping."""
    ports: list[tuple[int, str, int | None]] = []
    for mapping in container.definition.get("portMappings") or ():
        protocol = str(mapping.get("protocol") or "tcp")
        if mapping.get("containerPort") is not None:
            host = mapping.get("hostPort") or None
            ports.append((int(mapping["containerPort"]), protocol, int(host) if host else None))
        elif mapping.get("containerPortRange"):
            low, _, high = str(mapping["containerPortRange"]).partition("-")
            for port in range(int(low), int(high or low) + 1):
                ports.append((port, protocol, None))
    return ports


def _task_volume_labels(task: TaskSpec, labels: Mapping[str, str]) -> dict[str, str]:
    """Labels of a task-scoped volume, by which the task's cleanup finds it."""
    return {names.TASK_ARN: task.arn, names.INSTANCE_ID: labels.get(names.INSTANCE_ID, "")}


def _volume_binds(
    task: TaskSpec, container: ContainerSpec, labels: Mapping[str, str]
) -> tuple[list[str], list[VolumeRequest]]:
    by_name = {str(volume.get("name")): volume for volume in task.volumes}
    binds: list[str] = []
    requests: list[VolumeRequest] = []
    for mount in container.definition.get("mountPoints") or ():
        source_name = str(mount.get("sourceVolume", ""))
        mode = "ro" if mount.get("readOnly") else "rw"
        volume = by_name.get(source_name)
        if volume is None:
            raise DriverError(
                f"CannotCreateContainerError: volume {source_name} is not defined in the task definition"
            )
        source_path = (volume.get("host") or {}).get("sourcePath")
        docker_volume = volume.get("dockerVolumeConfiguration")
        if source_path:
            source = str(source_path)
        elif docker_volume is not None:
            shared = docker_volume.get("scope") == "shared"
            source = source_name if shared else task_volume_name(task, source_name)
            own = {} if shared else _task_volume_labels(task, labels)
            requests.append(
                VolumeRequest(
                    name=source,
                    driver=str(docker_volume.get("driver") or "local"),
                    driver_opts=dict(docker_volume.get("driverOpts") or {}),
                    labels={**(docker_volume.get("labels") or {}), **own},
                    create=not shared or bool(docker_volume.get("autoprovision")),
                )
            )
        elif any(
            key in volume for key in ("efsVolumeConfiguration", "fsxWindowsFileServerVolumeConfiguration")
        ):
            raise DriverError(
                f"CannotCreateContainerError: volume {source_name}: "
                "EFS and FSx volumes are not supported by Dockyard"
            )
        else:  # no source: an empty volume that lives as long as the task, as on ECS
            source = task_volume_name(task, source_name)
            requests.append(VolumeRequest(name=source, labels=_task_volume_labels(task, labels)))
        binds.append(f"{source}:{mount['containerPath']}:{mode}")
    return binds, requests


def _health_check(definition: Mapping[str, Any]) -> dict[str, Any] | None:
    check = definition.get("healthCheck") or {}
    if not check.get("command"):
        return None
    return {
        "test": list(check["command"]),
        "interval": int(check.get("interval", 30)) * NANOSECONDS,
        "timeout": int(check.get("timeout", 5)) * NANOSECONDS,
        "retries": int(check.get("retries", 3)),
        "start_period": int(check.get("startPeriod", 0)) * NANOSECONDS,
    }


def _linux_parameters(definition: Mapping[str, Any], host: dict[str, Any]) -> None:
    linux = definition.get("linuxParameters") or {}
    if linux.get("initProcessEnabled"):
        host["init"] = True
    capabilities = linux.get("capabilities") or {}
    if capabilities.get("add"):
        host["cap_add"] = list(capabilities["add"])
    if capabilities.get("drop"):
        host["cap_drop"] = list(capabilities["drop"])
    if linux.get("tmpfs"):
        host["tmpfs"] = {
            item["containerPath"]: ",".join([f"size={int(item['size'])}m", *(item.get("mountOptions") or ())])
            for item in linux["tmpfs"]
        }
    if linux.get("devices"):
        host["devices"] = [
            f"{item['hostPath']}:{item.get('containerPath') or item['hostPath']}:"
            + "".join(p[0] for p in (item.get("permissions") or ["read", "write", "mknod"]))
            for item in linux["devices"]
        ]
    if linux.get("sharedMemorySize"):
        host["shm_size"] = _mebibytes(linux["sharedMemorySize"])
    if linux.get("swappiness") is not None:
        host["mem_swappiness"] = int(linux["swappiness"])


def _memory(definition: Mapping[str, Any], host: dict[str, Any]) -> None:
    memory = definition.get("memory")
    if memory:
        host["mem_limit"] = _mebibytes(memory)
        swap = (definition.get("linuxParameters") or {}).get("maxSwap")
        # No swap unless asked for: a hard limit then means what it says (OOM kill at the limit).
        host["memswap_limit"] = _mebibytes(int(memory) + int(swap or 0))
    if definition.get("memoryReservation"):
        host["mem_reservation"] = _mebibytes(definition["memoryReservation"])


def docker_create(task: TaskSpec, container: ContainerSpec, labels: Mapping[str, str]) -> DockerCreate:
    """The create request for ``container`` of ``task``; DriverError if it cannot be made."""
    definition = container.definition
    warnings: list[str] = []
    mode = network_mode(task, warnings)
    config: dict[str, Any] = {"labels": dict(labels), "stop_timeout": int(container.stop_timeout)}
    host: dict[str, Any] = {
        "network_mode": mode,
        "cpu_shares": max(int(definition.get("cpu") or 0), MIN_CPU_SHARES),
    }
    if definition.get("command"):
        config["command"] = list(definition["command"])
    if definition.get("entryPoint"):
        config["entrypoint"] = list(definition["entryPoint"])
    environment = {
        str(item["name"]): str(item.get("value", "")) for item in definition.get("environment") or ()
    }
    if environment:
        config["environment"] = environment
    for source, target in (("workingDirectory", "working_dir"), ("user", "user")):
        if definition.get(source):
            config[target] = str(definition[source])
    if definition.get("hostname"):
        if mode == "host":
            warnings.append("hostname is ignored in host network mode")
        else:
            config["hostname"] = str(definition["hostname"])
    if definition.get("interactive"):
        config["stdin_open"] = True
    if definition.get("pseudoTerminal"):
        config["tty"] = True
    health = _health_check(definition)
    if health is not None:
        config["healthcheck"] = health

    ports = container_ports(container)
    if ports and mode != "none":
        config["ports"] = [(port, protocol) for port, protocol, _ in ports]
        if mode == "bridge":
            host["port_bindings"] = {f"{port}/{protocol}": host_port for port, protocol, host_port in ports}
    _memory(definition, host)
    _linux_parameters(definition, host)
    binds, volumes = _volume_binds(task, container, labels)
    if binds:
        host["binds"] = binds
    if definition.get("volumesFrom"):
        host["volumes_from"] = [
            docker_name(task, item["sourceContainer"]) + (":ro" if item.get("readOnly") else ":rw")
            for item in definition["volumesFrom"]
        ]
    if definition.get("links"):
        if mode != "bridge":
            warnings.append("links only work in bridge network mode; ignored")
        else:
            host["links"] = {
                docker_name(task, name): alias or name
                for name, _, alias in (str(link).partition(":") for link in definition["links"])
            }
    if definition.get("ulimits"):
        host["ulimits"] = [
            {"name": u["name"], "soft": int(u["softLimit"]), "hard": int(u["hardLimit"])}
            for u in definition["ulimits"]
        ]
    for source, target in (("readonlyRootFilesystem", "read_only"), ("privileged", "privileged")):
        if definition.get(source):
            host[target] = True
    if definition.get("extraHosts"):
        host["extra_hosts"] = {item["hostname"]: item["ipAddress"] for item in definition["extraHosts"]}
    for source, target in (
        ("dnsServers", "dns"),
        ("dnsSearchDomains", "dns_search"),
        ("dockerSecurityOptions", "security_opt"),
    ):
        if definition.get(source):
            host[target] = list(definition[source])
    if definition.get("systemControls"):
        host["sysctls"] = {item["namespace"]: item["value"] for item in definition["systemControls"]}
    for source, target in (("pidMode", "pid_mode"), ("ipcMode", "ipc_mode")):
        value = task.task_definition.get(source)
        if value == "host":
            host[target] = "host"
        elif value:
            warnings.append(f"{source} {value} is not supported; the container keeps its own")
    log = definition.get("logConfiguration") or {}
    driver = log.get("logDriver")
    if driver == "none":
        host["log_config"] = {"type": "none", "config": {}}
    elif driver and driver != "json-file":
        warnings.append(
            f"logDriver {driver} is not supported; output goes to json-file and to the control plane"
        )
    elif driver == "json-file" and log.get("options"):
        host["log_config"] = {"type": "json-file", "config": dict(log["options"])}
    return DockerCreate(
        name=docker_name(task, container.name),
        image=container.image,
        config=config,
        host_config=host,
        volumes=volumes,
        warnings=warnings,
    )
