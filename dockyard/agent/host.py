"""Measures the host for RegisterContainerInstance and picks the task driver."""

from __future__ import annotations

import logging
import os
import platform
import socket
from dataclasses import dataclass
from pathlib import Path

from dockyard.agent.drivers import Driver

log = logging.getLogger(__name__)

CPU_UNITS_PER_CORE = 1024
ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class HostFacts:
    cpu_units: int
    memory_mib: int
    os_type: str
    architecture: str
    hostname: str


def memory_reserve_mib(total_mib: int) -> int:
    """What the agent keeps back for the OS and itself: 10 %, at most 256 MiB."""
    return min(256, total_mib // 10)


def total_memory_mib(meminfo: Path = Path("/proc/meminfo")) -> int:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024))


def measure_host() -> HostFacts:
    """CPU units (1024 per core), memory in MiB less a reserve, OS and arch. Ports that happen
    to be listening are not measured: as on ECS, an instance reserves the agent's configured
    ports only (``registration.RESERVED_TCP_PORTS`` plus ``--reserved-ports``)."""
    total = total_memory_mib()
    machine = platform.machine().lower()
    return HostFacts(
        cpu_units=(os.cpu_count() or 1) * CPU_UNITS_PER_CORE,
        memory_mib=total - memory_reserve_mib(total),
        os_type=platform.system().lower() or "linux",
        architecture=ARCHITECTURES.get(machine, machine),
        hostname=socket.gethostname(),
    )


def private_ip(towards: str = "10.255.255.255") -> str:
    """The address this host uses to reach ``towards`` (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((towards, 9))
            return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"


def _unix_socket_answers(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(5)
        try:
            probe.connect(path)
            return True
        except OSError:
            return False


def docker_reachable() -> bool:
    """Does a Docker Engine answer (at $DOCKER_HOST, else the default socket)?"""
    docker_host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    # Probe a local socket ourselves first: the SDK leaks the socket of a failed connect.
    if docker_host.startswith("unix://") and not _unix_socket_answers(docker_host[len("unix://") :]):
        return False
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # any failure to reach the engine means: no engine
        return False


def pick_driver(requested: str | None, instance_id: str, state_dir: Path) -> Driver:
    """``docker`` when an engine answers (or asked for), else ``process`` with a warning."""
    if requested not in (None, "docker", "process"):
        raise ValueError(f"unknown driver {requested!r} (docker | process)")
    if requested == "docker" or (requested is None and docker_reachable()):
        from dockyard.agent.drivers.docker import DockerDriver

        return DockerDriver(instance_id)
    if requested is None:
        log.warning(
            "no Docker Engine reachable: tasks run as host processes (process driver; images are not used)"
        )
    from dockyard.agent.drivers.process import ProcessDriver

    return ProcessDriver(instance_id, state_dir)
