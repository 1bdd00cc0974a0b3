"""A deployment survives its control plane: a restart in the middle finishes it, and with two
servers on one PostgreSQL, killing the one that leads the service controller lets the other
finish it."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import database_url_for
from tests.harness import DockyardAgent, DockyardServer, connected_instances, drop_postgres_database, wait_for

pytestmark = pytest.mark.agents  # starts agent processes: not in the quick tier

SLEEPER = {"name": "app", "image": "dockyard/busybox", "memory": 16, "command": ["sleep", "600"]}


def _start_service(ecs: Any) -> None:
    ecs.register_task_definition(family="web", containerDefinitions=[SLEEPER])
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=4)
    _wait_completed(ecs, "web:1")
    ecs.register_task_definition(
        family="web", containerDefinitions=[{**SLEEPER, "command": ["sleep", "601"]}]
    )


def _wait_completed(ecs: Any, revision: str, timeout: float = 60) -> dict[str, Any]:
    def completed() -> Any:
        service = ecs.describe_services(services=["web"])["services"][0]
        primary = service["deployments"][0]
        return (
            len(service["deployments"]) == 1
            and primary["taskDefinition"].endswith(f":task-definition/{revision}")
            and primary["rolloutState"] == "COMPLETED"
            and service["runningCount"] == 4
            and service
        )

    return dict(wait_for(completed, timeout))


def _tasks_of(ecs: Any) -> set[str]:
    arns = ecs.list_tasks(serviceName="web")["taskArns"]
    return {t["taskDefinitionArn"].rsplit("/", 1)[-1] for t in ecs.describe_tasks(tasks=arns)["tasks"]}


def test_a_restart_in_the_middle_of_a_deployment_finishes_it(tmp_path: Path) -> None:
    server = DockyardServer(data_dir=tmp_path / "server").start()
    account = server.new_account()
    ecs = server.client(account)
    ecs.create_cluster(clusterName="default")
    agent = DockyardAgent(server, account, tmp_path / "agent", driver="process").start()
    try:
        connected_instances(ecs)
        _start_service(ecs)
        ecs.update_service(service="web", taskDefinition="web:2")
        server.stop(signal.SIGKILL)
        server.start()
        _wait_completed(ecs, "web:2")
        assert _tasks_of(ecs) == {"web:2"}
    finally:
        agent.stop()
        if server.process is not None:
            server.stop()


def test_the_other_server_finishes_a_deployment_when_the_leader_dies(tmp_path: Path) -> None:
    url = database_url_for("postgresql")
    assert url is not None
    leader = DockyardServer(data_dir=tmp_path / "a", database_url=url).start()
    account = leader.new_account()
    wait_for(lambda: "controller services: leading" in leader.log(), 120)
    follower = DockyardServer(
        data_dir=tmp_path / "b", database_url=url, master_key_file=leader.master_key_path
    ).start()
    ecs = follower.client(account)
    ecs.create_cluster(clusterName="default")
    agent = DockyardAgent(follower, account, tmp_path / "agent", driver="process").start()
    try:
        connected_instances(ecs)
        _start_service(ecs)
        assert "controller services: leading" not in follower.log()
        assert leader.process is not None
        leader.process.send_signal(signal.SIGSTOP)  # hung: it can't even give the lease up
        ecs.update_service(service="web", taskDefinition="web:2")
        _wait_completed(ecs, "web:2", timeout=90)
        assert "controller services: leading" in follower.log()
        assert _tasks_of(ecs) == {"web:2"}
    finally:
        agent.stop()
        follower.stop()
        if leader.process is not None:
            leader.process.kill()
            leader.process.wait()
        drop_postgres_database(url)
