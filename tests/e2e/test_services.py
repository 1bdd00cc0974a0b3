"""Services on real containers: a server, docker agents, the service scheduler keeping tasks
running, rolling them out, rolling them back, following instances."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Credentials, DockyardAgent, DockyardServer, connected_instances, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.agents]

SLEEPER = {
    "name": "app",
    "image": "dockyard/busybox",
    "memory": 16,
    "command": ["sleep", "600"],
    "stopTimeout": 2,
}


class Fleet:
    """One account with its own cluster and docker agents."""

    def __init__(self, server: DockyardServer, account: Credentials, root: Path) -> None:
        self.server, self.account, self.root = server, account, root
        self.ecs = server.client(account)
        self.ecs.create_cluster(clusterName="default")
        self.agents: list[DockyardAgent] = []

    def add_agent(self) -> DockyardAgent:
        agent = DockyardAgent(
            self.server, self.account, self.root / f"agent{len(self.agents)}", driver="docker"
        ).start()
        self.agents.append(agent)
        connected_instances(self.ecs, len(self.agents), message=agent.log()[-2000:])
        return agent

    def service(self, name: str = "web") -> dict[str, Any]:
        return dict(self.ecs.describe_services(services=[name])["services"][0])

    def tasks(self, name: str = "web", status: str = "RUNNING") -> list[dict[str, Any]]:
        arns = self.ecs.list_tasks(serviceName=name, desiredStatus=status)["taskArns"]
        return self.ecs.describe_tasks(tasks=arns)["tasks"] if arns else []

    def wait_steady(self, name: str = "web", count: int | None = None, timeout: float = 90) -> dict[str, Any]:
        def steady() -> Any:
            service = self.service(name)
            wanted = service["desiredCount"] if count is None else count
            primary = service["deployments"][0]
            return (
                len(service["deployments"]) == 1
                and primary["rolloutState"] == "COMPLETED"
                and service["runningCount"] == wanted
                and service
            )

        return dict(wait_for(steady, timeout, message=str(self.service(name)["events"][:5])))

    def close(self) -> None:
        for agent in self.agents:
            if agent.process is not None:
                agent.stop()


@pytest.fixture
def fleet(server: DockyardServer, docker_engine: None, tmp_path: Path) -> Iterator[Fleet]:
    fleet = Fleet(server, server.new_account(), tmp_path)
    yield fleet
    for name in fleet.ecs.list_services()["serviceArns"]:
        fleet.ecs.delete_service(service=name, force=True)
    wait_for(lambda: not fleet.tasks(), 60)
    fleet.close()


def _containers(task_arn: str) -> list[str]:
    return subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.amazonaws.ecs.task-arn={task_arn}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


def test_a_killed_container_is_replaced(fleet: Fleet) -> None:
    fleet.add_agent()
    fleet.ecs.register_task_definition(family="web", containerDefinitions=[SLEEPER])
    fleet.ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=3)
    fleet.wait_steady()
    victim = fleet.tasks()[0]["taskArn"]
    subprocess.run(["docker", "kill", *_containers(victim)], check=True, capture_output=True)

    def replaced() -> Any:
        running = {t["taskArn"] for t in fleet.tasks() if t["lastStatus"] == "RUNNING"}
        return victim not in running and len(running) == 3

    wait_for(replaced, 60)
    stopped = fleet.ecs.describe_tasks(tasks=[victim])["tasks"][0]
    assert stopped["lastStatus"] == "STOPPED" and stopped["stopCode"] == "EssentialContainerExited"
    events = [e["message"] for e in fleet.service()["events"]]
    assert any("has started 1 tasks" in m for m in events)


def test_a_rolling_update_stays_within_min_50_and_max_200(fleet: Fleet) -> None:
    fleet.add_agent()
    fleet.ecs.register_task_definition(family="web", containerDefinitions=[SLEEPER])
    fleet.ecs.create_service(
        serviceName="web",
        taskDefinition="web",
        desiredCount=4,
        deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200},
    )
    fleet.wait_steady()
    second = fleet.ecs.register_task_definition(
        family="web", containerDefinitions=[{**SLEEPER, "command": ["sleep", "601"]}]
    )["taskDefinition"]["taskDefinitionArn"]
    fleet.ecs.update_service(service="web", taskDefinition="web:2")
    samples = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        tasks = fleet.tasks()  # desired RUNNING
        stopping = fleet.tasks(status="STOPPED")
        running = sum(1 for t in tasks if t["lastStatus"] == "RUNNING")
        # Two reads: a task asked to stop in between is in both, and counts once.
        live = len(
            {t["taskArn"] for t in tasks} | {t["taskArn"] for t in stopping if t["lastStatus"] != "STOPPED"}
        )
        samples.append((running, live))
        service = fleet.service()
        if len(service["deployments"]) == 1 and service["deployments"][0]["rolloutState"] == "COMPLETED":
            break
        time.sleep(0.1)
    assert service["deployments"][0]["taskDefinition"] == second
    assert {t["taskDefinitionArn"] for t in fleet.tasks()} == {second}
    assert min(r for r, _ in samples) >= 2, samples
    assert max(live for _, live in samples) <= 8, samples
    assert len(samples) > 3


def test_a_bad_revision_trips_the_circuit_breaker_and_rolls_back(fleet: Fleet) -> None:
    fleet.add_agent()
    good = fleet.ecs.register_task_definition(family="web", containerDefinitions=[SLEEPER])["taskDefinition"][
        "taskDefinitionArn"
    ]
    fleet.ecs.create_service(
        serviceName="web",
        taskDefinition="web",
        desiredCount=2,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    fleet.wait_steady()
    fleet.ecs.register_task_definition(
        family="web", containerDefinitions=[{**SLEEPER, "command": ["sh", "-c", "exit 3"]}]
    )
    bad_id = fleet.ecs.update_service(service="web", taskDefinition="web:2")["service"]["deployments"][0][
        "id"
    ]

    def rolled_back() -> Any:
        service = fleet.service()
        primary = service["deployments"][0]
        return primary["taskDefinition"] == good and primary["rolloutState"] == "COMPLETED" and service

    service = wait_for(rolled_back, 120, message=str(fleet.service()["events"][:6]))
    messages = [e["message"] for e in service["events"]]
    assert f"(service web) (deployment {bad_id}) deployment failed: tasks failed to start." in messages
    assert any("rolling back to deployment" in m for m in messages)
    briefs = fleet.ecs.list_service_deployments(service="web")["serviceDeployments"]
    assert [b["status"] for b in briefs][:2] == ["SUCCESSFUL", "ROLLBACK_SUCCESSFUL"]
    assert {t["taskDefinitionArn"] for t in fleet.tasks()} == {good}


def test_a_daemon_follows_new_instances(fleet: Fleet) -> None:
    fleet.add_agent()
    fleet.ecs.register_task_definition(family="daemon", containerDefinitions=[SLEEPER])
    fleet.ecs.create_service(serviceName="d", taskDefinition="daemon", schedulingStrategy="DAEMON")
    fleet.wait_steady("d", 1)
    fleet.add_agent()
    service = fleet.wait_steady("d", 2)
    assert service["desiredCount"] == 2
    instances = {t["containerInstanceArn"] for t in fleet.tasks("d")}
    assert instances == set(fleet.ecs.list_container_instances()["containerInstanceArns"])


def test_draining_moves_service_tasks_and_leaves_standalone_ones(fleet: Fleet) -> None:
    fleet.add_agent()
    fleet.ecs.register_task_definition(family="web", containerDefinitions=[SLEEPER])
    [first] = fleet.ecs.list_container_instances()["containerInstanceArns"]
    standalone = fleet.ecs.run_task(taskDefinition="web")["tasks"][0]["taskArn"]
    fleet.ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=2)
    fleet.wait_steady()
    fleet.add_agent()
    fleet.ecs.update_container_instances_state(containerInstances=[first], status="DRAINING")

    def moved() -> Any:
        tasks = [t for t in fleet.tasks() if t["lastStatus"] == "RUNNING"]
        return len(tasks) == 2 and all(t["containerInstanceArn"] != first for t in tasks)

    wait_for(moved, 90, message=str(fleet.service()["events"][:5]))
    assert fleet.ecs.describe_tasks(tasks=[standalone])["tasks"][0]["lastStatus"] == "RUNNING"
    fleet.ecs.stop_task(task=standalone)


def test_a_task_failing_its_health_check_is_replaced(fleet: Fleet) -> None:
    fleet.add_agent()
    checked = {
        **SLEEPER,
        "command": ["sh", "-c", "touch /tmp/ok; sleep 600"],
        "healthCheck": {
            "command": ["CMD-SHELL", "test -f /tmp/ok"],
            "interval": 5,
            "timeout": 2,
            "retries": 1,
        },
    }
    fleet.ecs.register_task_definition(family="web", containerDefinitions=[checked])
    fleet.ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=1)
    fleet.wait_steady()
    [victim] = fleet.tasks()
    assert victim["healthStatus"] == "HEALTHY"
    for container_id in _containers(victim["taskArn"]):
        subprocess.run(["docker", "exec", container_id, "rm", "/tmp/ok"], check=True)

    def replaced() -> Any:
        tasks = [t for t in fleet.tasks() if t["healthStatus"] == "HEALTHY"]
        return len(tasks) == 1 and tasks[0]["taskArn"] != victim["taskArn"]

    wait_for(replaced, 90, message=str(fleet.service()["events"][:5]))
    stopped = fleet.ecs.describe_tasks(tasks=[victim["taskArn"]])["tasks"][0]
    assert stopped["stoppedReason"] == "Task failed container health checks"
