"""Measuring the host and picking the driver."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from dockyard.agent.drivers.process import ProcessDriver
from dockyard.agent.host import measure_host, memory_reserve_mib, pick_driver


def test_the_host_is_measured() -> None:
    facts = measure_host()
    assert facts.cpu_units == (os.cpu_count() or 1) * 1024
    assert facts.memory_mib > 0
    assert facts.os_type == "linux" and facts.architecture in ("x86_64", "arm64")


@pytest.mark.parametrize(
    ("total", "reserve"),
    [(24000, 256), (1000, 100)],
    ids=["a big host keeps 256 MiB back", "a small one keeps 10 %"],
)
def test_memory_reserve(total: int, reserve: int) -> None:
    assert memory_reserve_mib(total) == reserve


def test_the_process_driver_can_be_forced(tmp_path: Path) -> None:
    driver = pick_driver("process", "i-0123456789abcdef0", tmp_path)
    assert isinstance(driver, ProcessDriver) and driver.info().name == "process"
    driver.close()


def test_no_engine_falls_back_to_processes_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with caplog.at_level(logging.WARNING):
        driver = pick_driver(None, "i-0123456789abcdef0", tmp_path)
    assert isinstance(driver, ProcessDriver)
    assert "no Docker Engine reachable" in caplog.text
    driver.close()


@pytest.mark.docker
def test_a_reachable_engine_gets_the_docker_driver(tmp_path: Path) -> None:
    from dockyard.agent.host import docker_reachable

    if not docker_reachable():
        pytest.skip("no Docker Engine")
    driver = pick_driver(None, "i-0123456789abcdef0", tmp_path)
    info = driver.info()
    assert info.name == "docker" and info.version.startswith("DockerVersion: ")
    assert "com.amazonaws.ecs.capability.docker-remote-api.1.17" in info.capabilities
    driver.close()
