"""Fixtures for agent tests: drivers on a fresh instance id, cleaned up afterwards."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from dockyard.agent.drivers.process import ProcessDriver
from dockyard.agent.host import docker_reachable

T = TypeVar("T")


def new_instance_id() -> str:
    return "i-" + secrets.token_hex(9)[:17]


def wait_for(probe: Callable[[], T | None], timeout: float = 120.0, interval: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds, never
    fewer than 120 (a deadline only guards against a hang)."""
    timeout = max(timeout, 120.0)
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {probe}")
        time.sleep(interval)


def remove_docker_leftovers(instance_id: str) -> None:
    import docker

    client = docker.from_env()
    try:
        label = f"dockyard.instance-id={instance_id}"
        for row in client.api.containers(all=True, filters={"label": label}):
            client.api.remove_container(row["Id"], force=True, v=True)
        for volume in client.api.volumes(filters={"label": label}).get("Volumes") or ():
            client.api.remove_volume(volume["Name"], force=True)
    finally:
        client.close()


@pytest.fixture
def instance_id() -> str:
    return new_instance_id()


@pytest.fixture
def docker_driver(instance_id: str) -> Iterator[Any]:
    if not docker_reachable():
        pytest.skip("no Docker Engine (run scripts/docker-engine)")
    from dockyard.agent.drivers.docker import DockerDriver

    driver = DockerDriver(instance_id)
    yield driver
    driver.close()
    remove_docker_leftovers(instance_id)


@pytest.fixture
def process_driver(instance_id: str, tmp_path: Path) -> Iterator[ProcessDriver]:
    driver = ProcessDriver(instance_id, tmp_path / "state")
    yield driver
    for observed in driver.list_containers():
        driver.remove(observed.runtime_id)
    driver.close()
