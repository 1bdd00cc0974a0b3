"""Real tasks: a server, an agent, real containers on the Docker Engine (and, for what needs
no image, the same lifecycle as host processes with the process driver)."""

from __future__ import annotations

import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders import container
from tests.harness import DockyardAgent, DockyardServer, Tenant, connected_instances, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.agents]
APPLIED = "applied the desired state of this connection"  # the agent's marker after each connect


def _fleet(server: DockyardServer, state_dir: Path, driver: str) -> Iterator[Fleet]:
    account = server.new_account()
    ecs = server.client(account)
    ecs.create_cluster()
    agent = DockyardAgent(server, account, state_dir, driver=driver).start()
    connected_instances(ecs, message=agent.log())
    yield Fleet(server, account, agent)
    if agent.process is not None:
        agent.stop()


@pytest.fixture(scope="module", params=["docker", "process"])
def fleet(
    request: pytest.FixtureRequest,
    server: DockyardServer,
    docker_engine: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    """An account with a cluster and one agent of each driver, shared by this module's tests."""
    yield from _fleet(server, Path(tmp_path_factory.mktemp("agent")), request.param)


@pytest.fixture(scope="module")
def docker_fleet(
    server: DockyardServer, docker_engine: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    """For what only a container engine does (port mappings, memory limits)."""
    yield from _fleet(server, Path(tmp_path_factory.mktemp("agent")), "docker")


class Fleet(Tenant):
    def containers_of(self, arn: str) -> list[str]:
        """The runtime ids the host has for the task's containers (docker ids or process pids)."""
        if self.agent.driver == "docker":
            out = subprocess.run(
                ["docker", "ps", "-aq", "--filter", f"label=com.amazonaws.ecs.task-arn={arn}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            return out.split()
        return sorted(c.get("runtimeId", "") for c in self.task(arn)["containers"])


def test_a_container_that_exits_3_stops_the_task_with_its_output_kept(fleet: Fleet) -> None:
    arn = fleet.run(
        "exit3", [container("main", memory=64, command=["sh", "-c", "echo hello from a task; exit 3"])]
    )
    task = fleet.wait_status(arn, "STOPPED")
    assert task["containers"][0]["exitCode"] == 3
    assert task["stopCode"] == "EssentialContainerExited"
    assert {"pullStartedAt", "startedAt", "stoppingAt", "stoppedAt", "executionStoppedAt"} <= set(task) or {
        "startedAt",
        "stoppedAt",
    } <= set(task)
    wait_for(lambda: "hello from a task" in fleet.logs(arn), 120)


def test_a_web_server_answers_on_its_dynamic_host_port(docker_fleet: Fleet) -> None:
    fleet = docker_fleet
    arn = fleet.run(
        "web",
        [
            container(
                "web",
                memory=64,
                command=[
                    "sh",
                    "-c",
                    "mkdir -p /www && echo served-by-dockyard > /www/index.html && httpd -f -p 8080 -h /www",
                ],
                portMappings=[{"containerPort": 8080, "hostPort": 0}],
            )
        ],
    )
    task = fleet.wait_status(arn, "RUNNING")
    bindings = wait_for(lambda: fleet.task(arn)["containers"][0].get("networkBindings"), 120)
    host_port = bindings[0]["hostPort"]
    assert host_port != 8080 and bindings[0]["containerPort"] == 8080
    page = wait_for(lambda: _fetch(f"http://127.0.0.1:{host_port}/index.html"), 120)
    assert "served-by-dockyard" in page
    fleet.ecs.stop_task(task=task["taskArn"])
    fleet.wait_status(arn, "STOPPED")


def _fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


def test_stop_task_stops_a_long_task_within_its_stop_timeout(fleet: Fleet) -> None:
    arn = fleet.run("sleeper", [container("sleep", memory=32, command=["sleep", "600"], stopTimeout=2)])
    fleet.wait_status(arn, "RUNNING")
    fleet.ecs.stop_task(task=arn, reason="test over")
    task = fleet.wait_status(arn, "STOPPED", timeout=60)  # long before its sleep would end
    assert task["containers"][0]["exitCode"] in (137, 143)  # ended by the agent's signal
    assert task["stopCode"] == "UserInitiated" and task["stoppedReason"] == "test over"


def test_an_essential_containers_exit_stops_its_sibling(fleet: Fleet) -> None:
    arn = fleet.run(
        "pair",
        [
            container("short", memory=32, command=["sh", "-c", "sleep 1; exit 0"]),
            container("long", memory=32, command=["sleep", "600"], essential=False, stopTimeout=2),
        ],
    )
    task = fleet.wait_status(arn, "STOPPED", timeout=120)
    by_name = {c["name"]: c for c in task["containers"]}
    assert by_name["short"]["exitCode"] == 0
    assert by_name["long"]["lastStatus"] == "STOPPED"


def test_depends_on_orders_the_containers(fleet: Fleet) -> None:
    arn = fleet.run(
        "ordered",
        [
            container("setup", memory=32, essential=False, command=["sh", "-c", "date +%s; sleep 2"]),
            container(
                "main",
                memory=32,
                command=["sh", "-c", "date +%s"],
                dependsOn=[{"containerName": "setup", "condition": "SUCCESS"}],
            ),
        ],
    )
    task = fleet.wait_status(arn, "STOPPED", timeout=120)
    assert {c["name"]: c.get("exitCode") for c in task["containers"]} == {"setup": 0, "main": 0}
    output = wait_for(lambda: (text := fleet.logs(arn)).count("|") >= 2 and text, 120)
    stamps = {
        line.split(" | ")[0]: int(line.split(" | ")[1]) for line in output.splitlines() if " | " in line
    }
    assert stamps["main"] - stamps["setup"] >= 2  # main began after setup finished


def test_the_engine_enforces_the_memory_limit(docker_fleet: Fleet) -> None:
    fleet = docker_fleet
    arn = fleet.run(
        "hog", [container("hog", memory=16, command=["sh", "-c", "x=a; while true; do x=$x$x; done"])]
    )
    task = fleet.wait_status(arn, "STOPPED", timeout=60)
    hog = task["containers"][0]
    assert hog["exitCode"] == 137
    assert "OutOfMemory" in hog.get("reason", "")


def test_a_killed_agent_adopts_its_containers_when_it_comes_back(fleet: Fleet) -> None:
    arn = fleet.run("survivor", [container("s", memory=32, command=["sleep", "600"])])
    fleet.wait_status(arn, "RUNNING")
    before = fleet.containers_of(arn)
    assert len(before) == 1
    applied = fleet.agent.log().count(APPLIED)
    fleet.agent.stop(signal.SIGKILL)
    fleet.agent.start()
    instance = fleet.ecs.list_container_instances()["containerInstanceArns"]
    assert len(instance) == 1  # the restarted agent is the same instance
    # The restarted agent has applied the desired state: a wrong restart would have duplicated by now.
    wait_for(lambda: fleet.agent.log().count(APPLIED) > applied, 120, message=fleet.agent.log()[-3000:])
    assert fleet.containers_of(arn) == before
    assert fleet.task(arn)["lastStatus"] == "RUNNING"
    fleet.ecs.stop_task(task=arn)
    fleet.wait_status(arn, "STOPPED")


def test_a_control_plane_restart_changes_nothing_for_running_tasks(fleet: Fleet) -> None:
    arn = fleet.run("steady", [container("s", memory=32, command=["sleep", "600"])])
    fleet.wait_status(arn, "RUNNING")
    before = fleet.containers_of(arn)
    applied = fleet.agent.log().count(APPLIED)
    fleet.server.stop()
    fleet.server.start()
    wait_for(lambda: fleet.agent.log().count(APPLIED) > applied, 60, message=fleet.agent.log()[-3000:])
    assert fleet.containers_of(arn) == before
    assert fleet.task(arn)["lastStatus"] == "RUNNING"
    fleet.ecs.stop_task(task=arn)
    fleet.wait_status(arn, "STOPPED")


def test_a_stopped_agent_reads_disconnected(
    server: DockyardServer, docker_engine: None, tmp_path: Path
) -> None:
    account = server.new_account()
    ecs = server.client(account)
    ecs.create_cluster()
    agent = DockyardAgent(server, account, tmp_path / "agent").start()
    arns = connected_instances(ecs)

    def connected() -> bool:
        described = ecs.describe_container_instances(containerInstances=arns)
        return bool(described["containerInstances"][0]["agentConnected"])

    # Generous bounds: on a loaded machine an agent's start alone can take many seconds.
    wait_for(connected, 90, message=agent.log()[-3000:])
    assert agent.stop() == 0
    wait_for(lambda: not connected(), 60, message=agent.log()[-3000:])
