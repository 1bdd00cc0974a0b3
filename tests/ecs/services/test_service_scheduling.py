"""The service scheduler on hollow agents (real registrations, connections and reports, no
containers), on both stores: scaling, tags and startedBy, constraints, daemons, throttling."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.agent.hollow_tasks import TaskScript
from tests.harness import HollowAgents, wait_for

TASK = {"name": "app", "image": "busybox", "memory": 32, "command": ["sleep", "600"]}


@pytest.fixture(autouse=True)
def cluster(ecs: Any) -> None:
    ecs.create_cluster(clusterName="default")
    ecs.register_task_definition(
        family="web", containerDefinitions=[TASK], tags=[{"key": "from", "value": "td"}]
    )


def _service(ecs: Any, name: str = "web") -> dict[str, Any]:
    return dict(ecs.describe_services(services=[name], include=["TAGS"])["services"][0])


def _steady(ecs: Any, name: str = "web", running: int | None = None) -> dict[str, Any]:
    def steady() -> Any:
        service = _service(ecs, name)
        wanted = service["desiredCount"] if running is None else running
        return (
            len(service["deployments"]) == 1
            and service["deployments"][0]["rolloutState"] == "COMPLETED"
            and service["runningCount"] == wanted
            and service["events"][0]["message"] == f"(service {name}) has reached a steady state."
            and service
        )

    return dict(wait_for(steady, 120, message=str(_service(ecs, name)["events"][:4])))


def _tasks(ecs: Any, **filters: Any) -> list[dict[str, Any]]:
    arns = ecs.list_tasks(**filters)["taskArns"]
    return ecs.describe_tasks(tasks=arns, include=["TAGS"])["tasks"] if arns else []


def test_scale_out_and_in_with_tags_and_started_by(ecs: Any, hollow: HollowAgents) -> None:
    hollow.start(3, zones=("us-east-1a", "us-east-1b", "us-east-1c"), reports=True)
    service = ecs.create_service(
        serviceName="web",
        taskDefinition="web",
        desiredCount=6,
        tags=[{"key": "team", "value": "blue"}],
        propagateTags="SERVICE",
        enableECSManagedTags=True,
    )["service"]
    deployment_id = service["deployments"][0]["id"]
    _steady(ecs)
    tasks = _tasks(ecs, serviceName="web")
    assert len(tasks) == 6
    assert {t["startedBy"] for t in tasks} == {deployment_id}
    assert {t["group"] for t in tasks} == {"service:web"}
    assert {t["availabilityZone"] for t in tasks} == {"us-east-1a", "us-east-1b", "us-east-1c"}
    tags = {(tag["key"], tag["value"]) for tag in tasks[0]["tags"]}
    assert {("team", "blue"), ("aws:ecs:serviceName", "web"), ("aws:ecs:clusterName", "default")} <= tags
    assert ("from", "td") not in tags
    assert len(ecs.list_tasks(startedBy=deployment_id)["taskArns"]) == 6
    ecs.update_service(service="web", desiredCount=3)
    _steady(ecs, running=3)
    zones = [t["availabilityZone"] for t in _tasks(ecs, serviceName="web")]
    assert sorted(zones) == ["us-east-1a", "us-east-1b", "us-east-1c"], "scale-in keeps zones balanced"
    messages = [e["message"] for e in _service(ecs)["events"]]
    assert any(m.startswith("(service web) has stopped 3 running tasks") for m in messages)


def test_constraints_keep_a_service_on_matching_instances(ecs: Any, hollow: HollowAgents) -> None:
    hollow.start(2, attributes=(("tier", "web"),), reports=True)
    hollow.start(2, attributes=(("tier", "db"),), reports=True)
    ecs.create_service(
        serviceName="web",
        taskDefinition="web",
        desiredCount=4,
        placementConstraints=[{"type": "memberOf", "expression": "attribute:tier == web"}],
    )
    _steady(ecs)
    instances = {t["containerInstanceArn"] for t in _tasks(ecs, serviceName="web")}
    described = ecs.describe_container_instances(containerInstances=sorted(instances))["containerInstances"]
    for instance in described:
        assert {"name": "tier", "value": "web"} in instance["attributes"]


def test_a_daemon_runs_on_each_matching_instance_and_leaves_draining_ones(
    ecs: Any, hollow: HollowAgents
) -> None:
    fleet = hollow.start(3, attributes=(("role", "node"),), reports=True)
    hollow.start(1, attributes=(("role", "other"),), reports=True)
    ecs.create_service(
        serviceName="d",
        taskDefinition="web",
        schedulingStrategy="DAEMON",
        placementConstraints=[{"type": "memberOf", "expression": "attribute:role == node"}],
    )
    service = _steady(ecs, "d", running=3)
    assert service["desiredCount"] == 3
    assert {t["containerInstanceArn"] for t in _tasks(ecs, serviceName="d")} == set(fleet.arns)
    ecs.update_container_instances_state(containerInstances=[fleet.arns[0]], status="DRAINING")
    service = _steady(ecs, "d", running=2)
    assert fleet.arns[0] not in {t["containerInstanceArn"] for t in _tasks(ecs, serviceName="d")}


def test_a_service_whose_tasks_keep_failing_is_throttled(ecs: Any, hollow: HollowAgents) -> None:
    hollow.start(1, script=TaskScript(fail_rate=1.0, fail_seconds=0.0), reports=True)
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=1)

    def throttled() -> Any:
        messages = [e["message"] for e in _service(ecs)["events"]]
        return any("is unable to consistently start tasks successfully" in m for m in messages)

    wait_for(throttled, 60)
    stopped = ecs.list_tasks(serviceName="web", desiredStatus="STOPPED")["taskArns"]
    assert len(stopped) >= 4, "it kept replacing them until it was throttled"
    assert _service(ecs)["deployments"][0]["failedTasks"] >= 4


def test_a_deleted_service_stops_its_tasks(ecs: Any, hollow: HollowAgents) -> None:
    hollow.start(1, reports=True)
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=2)
    _steady(ecs)
    ecs.delete_service(service="web", force=True)
    wait_for(lambda: _service(ecs)["status"] == "INACTIVE", 120)
    assert ecs.list_tasks(serviceName="web")["taskArns"] == []
    assert ecs.describe_clusters()["clusters"][0]["activeServicesCount"] == 0


def test_tasks_on_a_lost_instance_are_replaced(tmp_path: Any) -> None:
    """An agent silent for DOCKYARD_INSTANCE_LOST_SECONDS took its host with it."""
    from tests.harness import DockyardServer

    server = DockyardServer(
        data_dir=tmp_path / "server",
        environment={"DOCKYARD_INSTANCE_LOST_SECONDS": "4", "DOCKYARD_JANITOR_INTERVAL": "1"},
    ).start()
    account = server.new_account()
    ecs = server.client(account)
    agents = HollowAgents(server, account)
    try:
        ecs.create_cluster(clusterName="default")
        ecs.register_task_definition(family="web", containerDefinitions=[TASK])
        doomed = agents.start(1, reports=True, heartbeat_interval=0.5)  # well within the 4 s
        ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=2)
        _steady(ecs)
        survivor = agents.start(1, reports=True, heartbeat_interval=0.5)
        agents.stop(doomed)  # its instance stays registered, silent
        lost = set(doomed.arns)

        def moved() -> Any:
            running = [t for t in _tasks(ecs, serviceName="web") if t["lastStatus"] == "RUNNING"]
            return len(running) == 2 and {t["containerInstanceArn"] for t in running} == set(survivor.arns)

        wait_for(moved, 60, message=str(_service(ecs)["events"][:4]))
        stopped = _tasks(ecs, serviceName="web", desiredStatus="STOPPED")
        assert {t["containerInstanceArn"] for t in stopped} == lost
        assert all("container instance was lost" in t["stoppedReason"] for t in stopped)
    finally:
        agents.close()
        server.stop()


def test_a_service_short_of_room_starts_its_task_once_a_stopped_task_frees_it(
    ecs: Any, hollow: HollowAgents
) -> None:
    hollow.start(1, memory=48, reports=True)  # room for one task of 32 MiB
    standalone = ecs.run_task(taskDefinition="web")["tasks"][0]["taskArn"]
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=1)
    wait_for(
        lambda: any("unable to place a task" in e["message"] for e in _service(ecs)["events"]),
        120,
        message="the service never said it was short of room",
    )
    # The agent reports the stop in a frame of reports: the freed room wakes the service.
    ecs.stop_task(task=standalone)
    service = _steady(ecs, running=1)
    assert service["runningCount"] == 1
