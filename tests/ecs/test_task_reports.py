"""Task reports applied together (``task_reports.submit_task_state_changes``, the agent
channel's turns): as the same reports one call at a time would leave the tasks and books."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.agent_channel.test_endpoint import agent_socket
from tests.agent_channel.test_task_report_frames import _ack
from tests.builders import container, register_instance
from tests.ecs.test_container_instances import resources
from tests.harness import Credentials, DockyardServer


@pytest.fixture
def registered(ecs: Any) -> dict[str, Any]:
    ecs.create_cluster()
    return register_instance(ecs, cpu=1024, memory=2048, ports=("22",))


def _run(ecs: Any, family: str, port: int | None = None) -> dict[str, Any]:
    mappings = [{"containerPort": 80, "hostPort": port}] if port else []
    ecs.register_task_definition(
        family=family,
        containerDefinitions=[container("web", memory=100, cpu=64, portMappings=mappings)],
    )
    return dict(ecs.run_task(taskDefinition=family)["tasks"][0])


def _stopped(task: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    return {
        "cluster": task["clusterArn"],
        "task": name or task["taskArn"],
        "status": "STOPPED",
        "containers": [{"containerName": "web", "status": "STOPPED", "exitCode": 0}],
    }


def _instance(ecs: Any, registered: dict[str, Any]) -> dict[str, Any]:
    arn = registered["containerInstanceArn"]
    return dict(ecs.describe_container_instances(containerInstances=[arn])["containerInstances"][0])


def test_tasks_stopped_in_one_frame_give_back_exactly_what_they_held(
    server: DockyardServer, account: Credentials, registered: dict[str, Any], ecs: Any
) -> None:
    with agent_socket(server, account, registered) as socket:  # an instance takes tasks once connected
        keeper = _run(ecs, "keeper", 8003)  # it runs on: a task stopped twice would free its share
        tasks = [_run(ecs, "first", 8001), _run(ecs, "second", 8002), _run(ecs, "third")]
        held = resources(_instance(ecs, registered))
        assert held == {
            "CPU": 1024 - 4 * 64,
            "MEMORY": 2048 - 400,
            "PORTS": ["22", "8001", "8002", "8003"],
            "PORTS_UDP": [],
        }
        first_id = tasks[0]["taskArn"].rsplit("/", 1)[1]
        other_cluster = dict(_stopped(tasks[1]), cluster="elsewhere")
        reports = [
            *(_stopped(task) for task in tasks),
            _stopped(tasks[0], name=first_id),  # the same task by its id: it stops once
            other_cluster,
        ]
        socket.send(json.dumps({"type": "taskReports", "id": 1, "reports": reports}))
        refused = _ack(socket, 1)["refused"]
    assert [(r["index"], r["code"]) for r in refused] == [(4, "ClusterNotFoundException")]
    assert resources(_instance(ecs, registered)) == {
        "CPU": 1024 - 64,
        "MEMORY": 2048 - 100,
        "PORTS": ["22", "8003"],
        "PORTS_UDP": [],
    }
    assert ecs.describe_tasks(tasks=[keeper["taskArn"]])["tasks"][0]["lastStatus"] != "STOPPED"
    described = ecs.describe_tasks(tasks=[task["taskArn"] for task in tasks])["tasks"]
    assert {(task["lastStatus"], task["stopCode"]) for task in described} == {
        ("STOPPED", "EssentialContainerExited")
    }
    # A late report of a stopped task changes nothing: its books are not given back twice.
    ecs.submit_task_state_change(**_stopped(tasks[2]))
    ecs.submit_task_state_change(cluster=tasks[2]["clusterArn"], task=tasks[2]["taskArn"], status="RUNNING")
    assert resources(_instance(ecs, registered))["MEMORY"] == 2048 - 100
    again = ecs.describe_tasks(tasks=[tasks[2]["taskArn"]])["tasks"][0]
    assert (again["lastStatus"], again["stoppedAt"]) == ("STOPPED", described[2]["stoppedAt"])


def test_a_task_of_another_cluster_is_not_found_by_a_report_naming_this_one(
    server: DockyardServer, account: Credentials, registered: dict[str, Any], ecs: Any
) -> None:
    ecs.create_cluster(clusterName="other")
    with agent_socket(server, account, registered) as socket:
        task = _run(ecs, "mine")
        wrong = dict(_stopped(task), cluster="other")
        socket.send(json.dumps({"type": "taskReports", "id": 2, "reports": [wrong]}))
        refused = _ack(socket, 2)["refused"]
    assert [(r["index"], r["code"]) for r in refused] == [(0, "InvalidParameterException")]
    assert ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"][0]["lastStatus"] != "STOPPED"


def test_a_frame_moving_a_task_twice_leaves_it_as_two_reports_would(
    server: DockyardServer, account: Credentials, registered: dict[str, Any], ecs: Any
) -> None:
    with agent_socket(server, account, registered) as socket:
        task = _run(ecs, "moved")
        other = _run(ecs, "refused")
        pending = {
            "cluster": task["clusterArn"],
            "task": task["taskArn"],
            "status": "PENDING",
            "pullStartedAt": 1000.0,
            "containers": [{"containerName": "web", "status": "PENDING"}],
        }
        running = {
            "cluster": task["clusterArn"],
            "task": task["taskArn"].rsplit("/", 1)[1],  # the same task by its id, as agents may
            "status": "RUNNING",
            "pullStoppedAt": 1001.0,
            "containers": [{"containerName": "web", "status": "RUNNING", "runtimeId": "abc"}],
        }
        late = dict(pending, pullStartedAt=999.0)  # after RUNNING: changes nothing, moves nothing back
        bad = dict(running, task=other["taskArn"], status="WAITING")  # refused after a move of its own
        reports = [pending, running, late, dict(pending, task=other["taskArn"]), bad]
        socket.send(json.dumps({"type": "taskReports", "id": 1, "reports": reports}))
        refused = _ack(socket, 1)["refused"]
    assert [(r["index"], r["code"]) for r in refused] == [(4, "InvalidParameterException")]
    [described] = ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"]
    assert described["lastStatus"] == "RUNNING"
    assert described["containers"][0]["lastStatus"] == "RUNNING"
    assert described["containers"][0]["runtimeId"] == "abc"
    assert described["pullStartedAt"].timestamp() == 1000.0
    assert described["pullStoppedAt"].timestamp() == 1001.0
    assert "startedAt" in described and "connectivityAt" in described
    assert described["version"] >= task["version"] + 2  # both moves written, not only the last
    [pending_only] = ecs.describe_tasks(tasks=[other["taskArn"]])["tasks"]
    assert pending_only["lastStatus"] == "PENDING"
