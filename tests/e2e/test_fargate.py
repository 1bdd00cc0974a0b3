"""FARGATE on local capacity: an agent started with ``--fargate-capacity`` runs FARGATE tasks
(awsvpc in bridge mode); a cluster without one answers RunTask as ECS does without Fargate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.conftest import remove_docker_leftovers
from tests.builders import container, register_instance
from tests.harness import DockyardAgent, DockyardServer, connected_instances, wait_for

pytestmark = pytest.mark.agents  # starts agent processes: not in the quick tier

NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"], "assignPublicIp": "DISABLED"}}


def register_fargate_definition(ecs: Any) -> None:
    ecs.register_task_definition(
        family="serverless",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[container("app", memory=None, command=["sleep", "600"], stopTimeout=2)],
    )


@pytest.fixture(params=[pytest.param("docker", marks=pytest.mark.docker), "process"])
def fargate_host(
    request: pytest.FixtureRequest, server: DockyardServer, tmp_path: Path
) -> Iterator[tuple[Any, DockyardAgent]]:
    """A cluster whose one agent offers Fargate capacity."""
    if request.param == "docker":
        request.getfixturevalue("docker_engine")
    account = server.new_account()
    ecs = server.client(account)
    ecs.create_cluster()
    agent = DockyardAgent(
        server, account, tmp_path / "agent", driver=str(request.param), options=("--fargate-capacity",)
    ).start()
    yield ecs, agent
    if agent.process is not None:
        agent.stop()
    if request.param == "docker":
        remove_docker_leftovers(json.loads((tmp_path / "agent" / "agent.json").read_text())["instanceId"])


def test_a_fargate_task_runs_on_an_agent_offering_fargate_capacity(
    fargate_host: tuple[Any, DockyardAgent],
) -> None:
    ecs, agent = fargate_host
    [arn] = connected_instances(ecs, message=agent.log())
    instance = ecs.describe_container_instances(containerInstances=[arn])["containerInstances"][0]
    attributes = {a["name"]: a.get("value") for a in instance["attributes"]}
    assert attributes["dockyard.capacity.fargate"] == "true"
    register_fargate_definition(ecs)
    result = ecs.run_task(taskDefinition="serverless", launchType="FARGATE", networkConfiguration=NETWORK)
    assert result["failures"] == [], result["failures"]
    task_arn = result["tasks"][0]["taskArn"]
    task = wait_for(
        lambda: (t := ecs.describe_tasks(tasks=[task_arn])["tasks"][0])["lastStatus"] == "RUNNING" and t,
        60,
        message=agent.log()[-3000:],
    )
    assert task["launchType"] == "FARGATE" and task["containerInstanceArn"] == arn
    assert (task["cpu"], task["memory"]) == ("256", "512")
    ecs.stop_task(task=task_arn)
    wait_for(
        lambda: ecs.describe_tasks(tasks=[task_arn])["tasks"][0]["lastStatus"] == "STOPPED",
        60,
        message=agent.log()[-3000:],
    )


def test_without_fargate_capacity_run_task_is_unsupported(ecs: Any) -> None:
    ecs.create_cluster()
    register_fargate_definition(ecs)
    register_instance(ecs)  # EC2 capacity only, as an agent without --fargate-capacity registers
    with pytest.raises(ecs.exceptions.UnsupportedFeatureException):
        ecs.run_task(taskDefinition="serverless", launchType="FARGATE", networkConfiguration=NETWORK)
