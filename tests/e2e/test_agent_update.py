"""UpdateContainerAgent carried out: an agent that reports an old version downloads the
control plane's package, restarts into it in place (same pid, same instance) and leaves the
running task's container alone."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.agent.drivers.process import process_start_ticks
from dockyard.agent.version import AGENT_VERSION
from tests.agent.conftest import remove_docker_leftovers
from tests.builders import container
from tests.harness import DockyardAgent, DockyardServer, connected_instances, wait_for

pytestmark = pytest.mark.agents  # starts agent processes: not in the quick tier

OLD_VERSION = "0.0.1"


@pytest.fixture(params=[pytest.param("docker", marks=pytest.mark.docker), "process"])
def driver(request: pytest.FixtureRequest) -> str:
    if request.param == "docker":
        request.getfixturevalue("docker_engine")
    return str(request.param)


@pytest.fixture
def old_agent(server: DockyardServer, driver: str, tmp_path: Path) -> Iterator[tuple[Any, DockyardAgent]]:
    """A cluster with one agent that pretends to be version 0.0.1."""
    account = server.new_account()
    ecs = server.client(account)
    ecs.create_cluster()
    agent = DockyardAgent(
        server,
        account,
        tmp_path / "agent",
        driver=driver,
        environment={"DOCKYARD_AGENT_VERSION": OLD_VERSION},
    ).start()
    yield ecs, agent
    if agent.process is not None:
        agent.stop()
    instance_id = json.loads((tmp_path / "agent" / "agent.json").read_text())["instanceId"]
    if driver == "docker":
        remove_docker_leftovers(instance_id)


def host_identity(driver: str, state_dir: Path, task: dict[str, Any]) -> tuple[str, str]:
    """What the host runs for the task's one container, and when it started: the container id
    and its start time, or for a process (whose runtime id is its task and container name)
    its pid and start time in clock ticks."""
    runtime_id = str(task["containers"][0]["runtimeId"])
    if driver == "docker":
        started = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Running}} {{.State.StartedAt}}", runtime_id],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert started.startswith("true ")
        return runtime_id, started
    record = json.loads((state_dir / "processes" / f"{runtime_id}.json").read_text())
    assert process_start_ticks(record["pid"]) == record["pidStartTicks"]  # alive, the same one
    return f"{runtime_id} pid {record['pid']}", str(record["pidStartTicks"])


def test_an_old_agent_updates_itself_in_place(old_agent: tuple[Any, DockyardAgent], driver: str) -> None:
    ecs, agent = old_agent
    [arn] = connected_instances(ecs, message=agent.log())
    describe = lambda: ecs.describe_container_instances(containerInstances=[arn])["containerInstances"][0]  # noqa: E731
    wait_for(lambda: describe()["agentConnected"], 60, message=agent.log())
    assert describe()["versionInfo"]["agentVersion"] == OLD_VERSION
    ecs.register_task_definition(
        family="steady",
        containerDefinitions=[container("s", memory=32, command=["sleep", "600"], stopTimeout=2)],
    )
    task_arn = ecs.run_task(taskDefinition="steady")["tasks"][0]["taskArn"]
    task = wait_for(
        lambda: (t := ecs.describe_tasks(tasks=[task_arn])["tasks"][0])["lastStatus"] == "RUNNING" and t,
        60,
        message=agent.log(),
    )
    before = host_identity(driver, agent.state_dir, task)
    assert agent.process is not None
    pid = agent.process.pid

    updating = ecs.update_container_agent(containerInstance=arn)["containerInstance"]
    assert updating["agentUpdateStatus"] == "PENDING"
    updated = wait_for(
        lambda: (i := describe())["agentUpdateStatus"] == "UPDATED" and i, 120, message=agent.log()[-4000:]
    )

    assert updated["versionInfo"]["agentVersion"] == AGENT_VERSION
    assert ecs.list_container_instances()["containerInstanceArns"] == [arn]  # the same instance
    assert agent.process.poll() is None and agent.process.pid == pid  # replaced in place
    assert str(agent.state_dir / "versions" / AGENT_VERSION) in agent.log()  # running the new code
    assert f"agent {AGENT_VERSION} staged in" in agent.log()
    wait_for(lambda: describe()["agentConnected"], 60, message=agent.log()[-3000:])
    task = ecs.describe_tasks(tasks=[task_arn])["tasks"][0]
    assert task["lastStatus"] == "RUNNING"
    assert host_identity(driver, agent.state_dir, task) == before  # the container was left alone
    ecs.stop_task(task=task_arn)
    wait_for(
        lambda: ecs.describe_tasks(tasks=[task_arn])["tasks"][0]["lastStatus"] == "STOPPED",
        60,
        message=agent.log()[-3000:],
    )
    assert agent.stop() == 0
    assert os.path.isdir(agent.state_dir / "versions" / AGENT_VERSION / "dockyard" / "agent")
