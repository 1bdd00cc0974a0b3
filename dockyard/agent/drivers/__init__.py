"""Task drivers: what actually runs a container on the host.

Every driver offers the same small set of blocking calls (the task owner runs them in a
thread pool) and describes what it finds on the host as :class:`Observed` snapshots.
A driver never decides anything: the reconcile logic does, the driver just acts and looks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from dockyard.agent.spec import ContainerSpec, TaskSpec
from dockyard.agent.status import ContainerStatus, HealthStatus

OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"


class DriverError(Exception):
    """A driver call failed; ``reason`` is what ECS would report (e.g. CannotPullContainerError)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class NetworkBinding:
    container_port: int
    host_port: int
    protocol: str = "tcp"
    bind_ip: str = "0.0.0.0"

    def to_report(self) -> dict[str, object]:
        return {
            "bindIP": self.bind_ip,
            "containerPort": self.container_port,
            "hostPort": self.host_port,
            "protocol": self.protocol,
        }


@dataclass(frozen=True)
class Observed:
    """One container as the host shows it right now."""

    runtime_id: str
    task_arn: str
    container_name: str
    status: ContainerStatus
    labels: dict[str, str] = field(default_factory=dict)
    exit_code: int | None = None
    reason: str = ""
    health: HealthStatus = HealthStatus.UNKNOWN
    network_bindings: tuple[NetworkBinding, ...] = ()
    started_at: float | None = None
    finished_at: float | None = None


@dataclass(frozen=True)
class DriverInfo:
    name: str  # "docker" | "process"
    version: str  # versionInfo.dockerVersion
    capabilities: tuple[str, ...]


LogSink = Callable[[float, str], object]
EventCallback = Callable[[str], object]  # called with a task ARN whose containers changed


class LogFollower(Protocol):
    """A thread streaming one container's output; it ends by itself once the container has
    stopped and every line it wrote is in the sink (``stop`` ends it early, dropping the rest)."""

    def stop(self) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...

    def is_alive(self) -> bool: ...


class Driver(Protocol):
    """The calls the agent makes on a driver; all block, all may raise DriverError."""

    def info(self) -> DriverInfo: ...

    def list_containers(self) -> list[Observed]:
        """Every container this agent (instance id) has on the host, whatever its state."""
        ...

    def inspect(self, runtime_id: str) -> Observed | None: ...

    def pull(self, task: TaskSpec, container: ContainerSpec) -> None: ...

    def create(self, task: TaskSpec, container: ContainerSpec, labels: dict[str, str]) -> Observed:
        """Create (not start) the container; an existing one of the same task and name is
        returned instead of a second one."""
        ...

    def start(self, runtime_id: str) -> Observed: ...

    def stop(self, runtime_id: str, timeout: float) -> Observed | None: ...

    def remove(self, runtime_id: str) -> None: ...

    def cleanup_task(self, task_arn: str) -> None:
        """Remove what the task had besides containers (task-scoped volumes, state files)."""
        ...

    def follow_logs(self, runtime_id: str, since: float | None, sink: LogSink) -> LogFollower: ...

    def watch(self, callback: EventCallback) -> None:
        """Start calling ``callback`` (from any thread) when a container changes."""
        ...

    def close(self) -> None: ...
