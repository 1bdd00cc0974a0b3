"""The docker driver against the real Docker Engine."""

from __future__ import annotations

import threading
import time
import urllib.request
from typing import Any

import pytest

from dockyard.agent import labels as names
from dockyard.agent.drivers import OOM_REASON, DriverError, Observed
from dockyard.agent.drivers.docker import DockerDriver
from dockyard.agent.spec import TaskSpec
from dockyard.agent.status import ContainerStatus, HealthStatus
from tests.agent.builders import container, task_spec
from tests.agent.conftest import wait_for

pytestmark = pytest.mark.docker


def run(driver: DockerDriver, spec: TaskSpec, name: str = "app") -> Observed:
    labels = names.container_labels(
        spec, spec.container(name), instance_arn="arn:instance", instance_id=driver.instance_id
    )
    driver.pull(spec, spec.container(name))
    created = driver.create(spec, spec.container(name), labels)
    assert created.status is ContainerStatus.CREATED
    return driver.start(created.runtime_id)


def stopped(driver: DockerDriver, runtime_id: str) -> Observed | None:
    observed = driver.inspect(runtime_id)
    return observed if observed and observed.status is ContainerStatus.STOPPED else None


def test_a_container_prints_and_exits_3(docker_driver: DockerDriver) -> None:
    spec = task_spec(container(command=["sh", "-c", "echo hello; echo oops >&2; exit 3"]))
    started = run(docker_driver, spec)
    lines: list[tuple[float, str]] = []
    docker_driver.follow_logs(started.runtime_id, None, lambda at, text: lines.append((at, text)))
    final = wait_for(lambda: stopped(docker_driver, started.runtime_id))
    assert final.exit_code == 3 and final.reason == ""
    assert final.started_at and final.finished_at  # (Docker may stamp a fast exit before its start)
    wait_for(lambda: len(lines) >= 2)
    assert sorted(text for _, text in lines) == ["hello", "oops"]
    assert all(abs(at - time.time()) < 120 for at, _ in lines)


def test_dynamic_host_port_web_server(docker_driver: DockerDriver) -> None:
    spec = task_spec(
        container(
            command=["sh", "-c", "echo served-by-dockyard > /www/index.html; exec httpd -f -p 8080 -h /www"],
            portMappings=[{"containerPort": 8080}],
        )
    )
    started = run(docker_driver, spec)
    [binding] = started.network_bindings
    assert binding.container_port == 8080 and binding.host_port > 0
    assert binding.protocol == "tcp" and binding.bind_ip == "0.0.0.0"

    def fetch() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{binding.host_port}/", timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            return ""

    assert wait_for(fetch).strip() == "served-by-dockyard"


def test_memory_hard_limit_is_enforced(docker_driver: DockerDriver) -> None:
    spec = task_spec(
        container(memory=16, command=["sh", "-c", "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done"])
    )
    started = run(docker_driver, spec)
    final = wait_for(lambda: stopped(docker_driver, started.runtime_id), timeout=60)
    assert final.exit_code == 137
    assert final.reason == OOM_REASON


def test_stop_waits_stop_timeout_then_kills(docker_driver: DockerDriver) -> None:
    # PID 1 without a TERM handler ignores SIGTERM: only the kill after stopTimeout ends it.
    spec = task_spec(container(command=["sleep", "600"], stopTimeout=2))
    started = run(docker_driver, spec)
    began = time.monotonic()
    final = docker_driver.stop(started.runtime_id, spec.container("app").stop_timeout)
    elapsed = time.monotonic() - began
    assert final is not None and final.status is ContainerStatus.STOPPED
    assert final.exit_code == 137
    assert elapsed >= 1.5  # it did give the container its stopTimeout


def test_a_container_that_handles_sigterm_stops_at_once(docker_driver: DockerDriver) -> None:
    spec = task_spec(container(command=["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"], stopTimeout=30))
    started = run(docker_driver, spec)
    final = docker_driver.stop(started.runtime_id, 30)
    assert final is not None and final.exit_code == 0


def test_labels_tie_the_container_to_task_and_agent(docker_driver: DockerDriver) -> None:
    spec = task_spec(
        container(command=["sleep", "600"], dockerLabels={"team": "blue"}), family="web", revision=4
    )
    started = run(docker_driver, spec)
    labels = started.labels
    assert labels[names.TASK_ARN] == spec.arn
    assert labels[names.CONTAINER_NAME] == "app"
    assert labels[names.CLUSTER] == spec.cluster_arn
    assert (labels[names.FAMILY], labels[names.VERSION]) == ("web", "4")
    assert labels[names.INSTANCE_ARN] == "arn:instance"
    assert labels[names.INSTANCE_ID] == docker_driver.instance_id
    assert labels["team"] == "blue"
    assert (started.task_arn, started.container_name) == (spec.arn, "app")


def test_a_new_driver_adopts_and_never_duplicates(docker_driver: DockerDriver) -> None:
    spec = task_spec(container(command=["sleep", "600"]))
    started = run(docker_driver, spec)
    again = DockerDriver(docker_driver.instance_id)
    try:
        [found] = again.list_containers()
        assert (found.runtime_id, found.status) == (started.runtime_id, ContainerStatus.RUNNING)
        labels = names.container_labels(
            spec, spec.container("app"), instance_arn="arn:instance", instance_id=again.instance_id
        )
        assert again.create(spec, spec.container("app"), labels).runtime_id == started.runtime_id
        assert len(again.list_containers()) == 1
    finally:
        again.close()
    stranger = DockerDriver("i-00000000000000000")
    try:
        assert all(c.runtime_id != started.runtime_id for c in stranger.list_containers())
    finally:
        stranger.close()


def test_a_missing_image_is_a_pull_error(docker_driver: DockerDriver) -> None:
    spec = task_spec(container(image="dockyard.invalid/nothing-here:none"))
    with pytest.raises(DriverError, match=r"^CannotPullContainerError: "):
        docker_driver.pull(spec, spec.container("app"))


def test_an_unknown_command_cannot_start(docker_driver: DockerDriver) -> None:
    spec = task_spec(container(command=["/no/such/binary"]))
    labels = names.container_labels(
        spec, spec.container("app"), instance_arn="a", instance_id=docker_driver.instance_id
    )
    created = docker_driver.create(spec, spec.container("app"), labels)
    with pytest.raises(DriverError, match=r"^CannotStartContainerError: "):
        docker_driver.start(created.runtime_id)


def test_health_check_is_reported(docker_driver: DockerDriver) -> None:
    spec = task_spec(
        container(
            command=["sleep", "600"],
            healthCheck={"command": ["CMD-SHELL", "test -e /tmp"], "interval": 1, "timeout": 1, "retries": 1},
        )
    )
    started = run(docker_driver, spec)
    assert started.health is HealthStatus.UNKNOWN
    wait_for(
        lambda: (
            docker_driver.inspect(started.runtime_id).health  # type: ignore[union-attr]
            is HealthStatus.HEALTHY
        )
    )


def test_events_announce_an_exit(docker_driver: DockerDriver) -> None:
    seen: list[str] = []
    event = threading.Event()

    def callback(task_arn: str) -> None:
        seen.append(task_arn)
        event.set()

    docker_driver.watch(callback)
    wait_for(lambda: docker_driver._events is not None)  # the event stream is connected
    spec = task_spec(container(command=["true"]))
    run(docker_driver, spec)
    assert event.wait(20) and spec.arn in seen


def test_task_volumes_are_made_and_cleaned_up(docker_driver: DockerDriver) -> None:
    spec = task_spec(
        container(
            command=["sh", "-c", "echo kept > /data/f; cat /data/f"],
            mountPoints=[{"sourceVolume": "data", "containerPath": "/data"}],
        ),
        volumes=[{"name": "data", "dockerVolumeConfiguration": {"scope": "task"}}],
    )
    started = run(docker_driver, spec)
    wait_for(lambda: stopped(docker_driver, started.runtime_id))
    api: Any = docker_driver.api
    label = f"{names.TASK_ARN}={spec.arn}"
    assert api.volumes(filters={"label": label})["Volumes"]
    docker_driver.remove(started.runtime_id)
    docker_driver.cleanup_task(spec.arn)
    assert not api.volumes(filters={"label": label})["Volumes"]
    assert docker_driver.inspect(started.runtime_id) is None
