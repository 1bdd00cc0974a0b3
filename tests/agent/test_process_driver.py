"""The process driver: host processes with exit codes, stops, logs and adoption."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from dockyard.agent import labels as names
from dockyard.agent.drivers import DriverError, Observed
from dockyard.agent.drivers.process import ProcessDriver, command_line, process_start_ticks
from dockyard.agent.spec import TaskSpec
from dockyard.agent.status import ContainerStatus, HealthStatus
from tests.agent.builders import container, task_spec
from tests.agent.conftest import wait_for


def run(driver: ProcessDriver, spec: TaskSpec, name: str = "app") -> Observed:
    labels = names.container_labels(
        spec, spec.container(name), instance_arn="arn:instance", instance_id=driver.instance_id
    )
    driver.pull(spec, spec.container(name))
    created = driver.create(spec, spec.container(name), labels)
    assert created.status is ContainerStatus.CREATED
    return driver.start(created.runtime_id)


def stopped(driver: ProcessDriver, runtime_id: str) -> Observed | None:
    observed = driver.inspect(runtime_id)
    return observed if observed and observed.status is ContainerStatus.STOPPED else None


COMMANDS = [
    (
        "entryPoint and command are joined",
        {"entryPoint": ["echo"], "command": ["a", "b"]},
        ["echo", "a", "b"],
    ),
    (
        "a single string with spaces goes through sh -c",
        {"command": ["echo hi && exit 2"]},
        ["/bin/sh", "-c", "echo hi && exit 2"],
    ),
    ("an explicit sh -c form is exec'd as is", {"command": ["sh", "-c", "echo hi"]}, ["sh", "-c", "echo hi"]),
    ("a single word is exec'd as is", {"command": ["true"]}, ["true"]),
]


@pytest.mark.parametrize(
    ("definition", "argv"), [row[1:] for row in COMMANDS], ids=[row[0] for row in COMMANDS]
)
def test_command_line(definition: dict[str, list[str]], argv: list[str]) -> None:
    assert command_line(definition) == argv


def test_exit_code_output_and_environment(process_driver: ProcessDriver, tmp_path: Path) -> None:
    spec = task_spec(
        container(
            command=["sh", "-c", "echo $GREETING from $(pwd); echo err >&2; exit 3"],
            environment=[{"name": "GREETING", "value": "hello"}],
            workingDirectory=str(tmp_path),
        )
    )
    started = run(process_driver, spec)
    lines: list[str] = []
    process_driver.follow_logs(started.runtime_id, None, lambda at, text: lines.append(text))
    final = wait_for(lambda: stopped(process_driver, started.runtime_id))
    assert final.exit_code == 3
    wait_for(lambda: len(lines) >= 2)
    assert lines == [f"hello from {tmp_path}", "err"]


def test_the_agent_secrets_do_not_leak_into_the_process(
    process_driver: ProcessDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    spec = task_spec(container(command=["sh", "-c", 'test -z "$AWS_SECRET_ACCESS_KEY"']))
    started = run(process_driver, spec)
    assert wait_for(lambda: stopped(process_driver, started.runtime_id)).exit_code == 0


def test_stop_sends_sigterm_first(process_driver: ProcessDriver, tmp_path: Path) -> None:
    ready = tmp_path / "trapped"
    spec = task_spec(container(command=["sh", "-c", f"trap 'exit 0' TERM; touch {ready}; sleep 600 & wait"]))
    started = run(process_driver, spec)
    wait_for(ready.exists)  # sh has installed its trap
    final = process_driver.stop(started.runtime_id, 30)
    assert final is not None and final.status is ContainerStatus.STOPPED
    assert final.exit_code == 0


def test_stop_kills_after_stop_timeout(process_driver: ProcessDriver, tmp_path: Path) -> None:
    ready = tmp_path / "trapped"
    spec = task_spec(
        container(
            command=["sh", "-c", f"trap '' TERM; touch {ready}; while true; do sleep 0.1; done"],
            stopTimeout=1,
        )
    )
    started = run(process_driver, spec)
    wait_for(ready.exists)
    began = time.monotonic()
    final = process_driver.stop(started.runtime_id, 1)
    assert time.monotonic() - began >= 0.9
    assert final is not None and final.exit_code == 137


def test_a_restarted_driver_adopts_the_running_process(instance_id: str, tmp_path: Path) -> None:
    first = ProcessDriver(instance_id, tmp_path)
    spec = task_spec(container(command=["sleep", "600"]))
    started = run(first, spec)
    second = ProcessDriver(instance_id, tmp_path)  # as after an agent restart
    try:
        [found] = second.list_containers()
        assert (found.runtime_id, found.status) == (started.runtime_id, ContainerStatus.RUNNING)
        labels = names.container_labels(
            spec, spec.container("app"), instance_arn="arn:instance", instance_id=instance_id
        )
        assert second.create(spec, spec.container("app"), labels).status is ContainerStatus.RUNNING
        assert second.start(started.runtime_id).runtime_id == started.runtime_id
        assert len(second.list_containers()) == 1  # no duplicate
        final = second.stop(started.runtime_id, 5)
        assert final is not None and final.exit_code == 143  # killed by SIGTERM, as in a shell
    finally:
        second.remove(started.runtime_id)
        first.close()
        second.close()


def test_an_exit_while_the_agent_was_away_keeps_its_code(instance_id: str, tmp_path: Path) -> None:
    first = ProcessDriver(instance_id, tmp_path)
    go = tmp_path / "go"
    spec = task_spec(container(command=["sh", "-c", f"while [ ! -e {go} ]; do sleep 0.05; done; exit 5"]))
    started = run(first, spec)
    first.close()
    go.touch()  # it exits while no driver watches
    task_id, _, name = started.runtime_id.partition("/")
    wait_for((first.root / task_id / f"{name}.exit").exists)  # the shim wrote its exit code
    second = ProcessDriver(instance_id, tmp_path)
    try:
        final = wait_for(lambda: stopped(second, started.runtime_id))
        assert final.exit_code == 5
    finally:
        second.close()


def test_a_recycled_pid_is_not_taken_for_the_container(process_driver: ProcessDriver) -> None:
    spec = task_spec(container(command=["sleep", "600"]))
    started = run(process_driver, spec)
    record_path = process_driver.root / spec.task_id / "app.json"
    record = json.loads(record_path.read_text())
    os.killpg(record["pid"], signal.SIGKILL)
    wait_for(lambda: stopped(process_driver, started.runtime_id))
    # Rewrite the record as a stranger's pid (our own) with a wrong start time.
    record.update(pid=os.getpid(), pidStartTicks=1, finishedAt=None, exitCode=None)
    record_path.write_text(json.dumps(record))
    fresh = ProcessDriver(process_driver.instance_id, process_driver.root.parent)
    try:
        assert fresh.inspect(started.runtime_id).status is ContainerStatus.STOPPED  # type: ignore[union-attr]
        fresh.stop(started.runtime_id, 1)  # must not signal the test process
    finally:
        fresh.close()
    assert process_start_ticks(os.getpid()) is not None


def test_a_process_gone_before_the_agent_looks_is_still_seen_to_exit(
    process_driver: ProcessDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    launch = ProcessDriver._launch

    def slow_agent(*args: Any) -> tuple[int, int]:
        """The agent thread is descheduled until the command (and its shim) are long gone."""
        pid, ticks = launch(*args)
        wait_for(lambda: process_start_ticks(pid) is None)
        return pid, ticks

    monkeypatch.setattr(ProcessDriver, "_launch", staticmethod(slow_agent))
    spec = task_spec(container(command=["sh", "-c", "echo quick; exit 7"]))
    started = run(process_driver, spec)
    record = json.loads((process_driver.root / spec.task_id / "app.json").read_text())
    assert isinstance(record["pidStartTicks"], int)  # from the shim itself, not read too late
    final = wait_for(lambda: stopped(process_driver, started.runtime_id), 120)
    assert final.exit_code == 7


def test_a_follower_started_after_the_exit_reads_everything_and_ends(process_driver: ProcessDriver) -> None:
    spec = task_spec(container(command=["sh", "-c", "echo one; echo two; printf three"]))
    started = run(process_driver, spec)
    wait_for(lambda: stopped(process_driver, started.runtime_id))
    lines: list[str] = []
    follower = process_driver.follow_logs(started.runtime_id, None, lambda at, text: lines.append(text))
    follower.join(10)
    assert not follower.is_alive()
    assert lines == ["one", "two", "three"]


def test_a_removed_container_is_not_brought_back(process_driver: ProcessDriver) -> None:
    spec = task_spec(container(command=["true"]))
    started = run(process_driver, spec)
    stale = json.loads((process_driver.root / spec.task_id / "app.json").read_text())
    wait_for(lambda: stopped(process_driver, started.runtime_id))
    process_driver.remove(started.runtime_id)
    process_driver._finalize(stale)  # as a monitor pass that looked just before the removal
    assert process_driver.list_containers() == []


def test_a_missing_executable_cannot_start(process_driver: ProcessDriver) -> None:
    spec = task_spec(container(command=["/no/such/binary"]))
    labels = names.container_labels(
        spec, spec.container("app"), instance_arn="a", instance_id=process_driver.instance_id
    )
    created = process_driver.create(spec, spec.container("app"), labels)
    with pytest.raises(DriverError, match=r"^CannotStartContainerError: "):
        process_driver.start(created.runtime_id)


def test_a_container_without_a_command_cannot_be_created(process_driver: ProcessDriver) -> None:
    spec = task_spec(container())
    with pytest.raises(DriverError, match=r"^CannotCreateContainerError: "):
        process_driver.create(spec, spec.container("app"), {})


def test_health_checks_run_on_the_host(process_driver: ProcessDriver, tmp_path: Path) -> None:
    flag = tmp_path / "healthy"
    spec = task_spec(
        container(
            command=["sleep", "600"],
            healthCheck={"command": ["CMD-SHELL", f"test -e {flag}"], "interval": 0.2, "retries": 1},
        )
    )
    changed: list[str] = []
    process_driver.watch(changed.append)
    started = run(process_driver, spec)
    wait_for(
        lambda: (
            process_driver.inspect(started.runtime_id).health  # type: ignore[union-attr]
            is HealthStatus.UNHEALTHY
        )
    )
    flag.touch()
    wait_for(
        lambda: (
            process_driver.inspect(started.runtime_id).health  # type: ignore[union-attr]
            is HealthStatus.HEALTHY
        )
    )
    assert spec.arn in changed


def test_exits_are_announced(process_driver: ProcessDriver) -> None:
    changed: list[str] = []
    process_driver.watch(changed.append)
    spec = task_spec(container(command=["true"]))
    run(process_driver, spec)
    wait_for(lambda: spec.arn in changed)


def test_remove_and_cleanup_leave_nothing(process_driver: ProcessDriver) -> None:
    spec = task_spec(container(command=["sleep", "600"]))
    started = run(process_driver, spec)
    process_driver.remove(started.runtime_id)
    process_driver.cleanup_task(spec.arn)
    assert process_driver.inspect(started.runtime_id) is None
    assert not (process_driver.root / spec.task_id).exists()
    assert process_driver.list_containers() == []


def test_a_sigterm_sent_as_soon_as_the_pid_is_known_still_reaches_the_command(tmp_path: Path) -> None:
    # The shim reports its pid before it runs the command: a stop in that window must not be lost.
    for attempt in range(20):  # the window is short; under load (as in CI) it was hit
        exit_path = tmp_path / f"exit-{attempt}"
        pid, _ = ProcessDriver._launch(
            ["sleep", "600"],
            {"cwd": str(tmp_path), "environment": {"PATH": os.environ["PATH"]}},
            tmp_path / f"log-{attempt}",
            exit_path,
            {},
        )
        os.killpg(pid, signal.SIGTERM)
        wait_for(exit_path.exists, timeout=10)
        assert exit_path.read_text() == "143"
