"""Tasks through the API: RunTask placement and bookkeeping, the lifecycle driven by reports."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.builders import container, register_task_definition
from tests.harness import HollowAgents


def code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


@pytest.fixture
def cluster(ecs: Any) -> str:
    ecs.create_cluster()
    return "default"


def test_run_task_creates_provisioning_tasks_with_ecs_defaults(
    hollow: HollowAgents, ecs: Any, cluster: str, account: Any
) -> None:
    instance = hollow.instance(ecs)
    definition = register_task_definition(ecs, "web")
    result = ecs.run_task(taskDefinition="web", count=2, startedBy="me")
    assert result["failures"] == [] and len(result["tasks"]) == 2
    task = result["tasks"][0]
    assert task["taskArn"].startswith(f"arn:aws:ecs:us-east-1:{account.account_id}:task/default/")
    assert task["lastStatus"] == "PROVISIONING" and task["desiredStatus"] == "RUNNING"
    assert task["group"] == "family:web" and task["startedBy"] == "me" and task["launchType"] == "EC2"
    assert task["taskDefinitionArn"] == definition["taskDefinitionArn"]
    assert task["containerInstanceArn"] == instance["containerInstanceArn"]
    assert task["memory"] == "128" and task["containers"][0]["name"] == "app"
    assert task["availabilityZone"] == "us-east-1a"


def test_run_task_without_instances_is_refused(ecs: Any, cluster: str) -> None:
    register_task_definition(ecs, "web")
    with pytest.raises(ClientError) as excinfo:
        ecs.run_task(taskDefinition="web")
    assert code(excinfo) == "InvalidParameterException"
    assert "No Container Instances" in excinfo.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("containers", "reason"),
    [
        ([container("big", memory=5000)], "RESOURCE:MEMORY"),
        ([container("hungry", cpu=4096)], "RESOURCE:CPU"),
        ([container("ssh", portMappings=[{"containerPort": 22, "hostPort": 22}])], "RESOURCE:PORTS"),
    ],
    ids=["too much memory", "too much cpu", "a reserved port"],
)
def test_what_does_not_fit_is_a_failure_with_the_ecs_reason(
    hollow: HollowAgents, ecs: Any, cluster: str, containers: list[dict[str, Any]], reason: str
) -> None:
    instance = hollow.instance(ecs, cpu=2048, memory=4096)
    register_task_definition(ecs, "x", containers)
    result = ecs.run_task(taskDefinition="x")
    assert result["tasks"] == []
    assert result["failures"] == [{"arn": instance["containerInstanceArn"], "reason": reason}]


def test_tasks_fill_an_instance_and_then_fail(hollow: HollowAgents, ecs: Any, cluster: str) -> None:
    hollow.instance(ecs, memory=1000)
    register_task_definition(ecs, "x", [container(memory=300)])
    result = ecs.run_task(taskDefinition="x", count=5)
    assert len(result["tasks"]) == 3
    assert result["failures"][0]["reason"] == "RESOURCE:MEMORY"


def test_the_lifecycle_follows_the_agents_reports(hollow: HollowAgents, ecs: Any, cluster: str) -> None:
    hollow.instance(ecs)
    register_task_definition(ecs, "x")
    arn = ecs.run_task(taskDefinition="x")["tasks"][0]["taskArn"]
    ecs.submit_task_state_change(task=arn, status="PENDING", pullStartedAt=1764000000.0)
    assert ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] == "PENDING"
    ecs.submit_task_state_change(
        task=arn,
        status="RUNNING",
        containers=[{"containerName": "app", "status": "RUNNING", "runtimeId": "abc123"}],
    )
    task = ecs.describe_tasks(tasks=[arn])["tasks"][0]
    assert task["lastStatus"] == "RUNNING" and "startedAt" in task and "pullStartedAt" in task
    assert task["containers"][0]["runtimeId"] == "abc123"
    ecs.submit_task_state_change(task=arn, status="PENDING")  # a late report never moves it back
    assert ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING"
    ecs.submit_task_state_change(
        task=arn, status="STOPPED", containers=[{"containerName": "app", "status": "STOPPED", "exitCode": 3}]
    )
    task = ecs.describe_tasks(tasks=[arn])["tasks"][0]
    assert task["lastStatus"] == "STOPPED" and task["desiredStatus"] == "STOPPED"
    assert task["stopCode"] == "EssentialContainerExited"
    assert task["containers"][0]["exitCode"] == 3 and "stoppedAt" in task


def test_stop_task_asks_the_agent_then_records_user_initiated(
    hollow: HollowAgents, ecs: Any, cluster: str
) -> None:
    hollow.instance(ecs)
    register_task_definition(ecs, "x")
    arn = ecs.run_task(taskDefinition="x")["tasks"][0]["taskArn"]
    ecs.submit_task_state_change(task=arn, status="RUNNING")
    stopping = ecs.stop_task(task=arn, reason="enough")["task"]
    assert stopping["desiredStatus"] == "STOPPED" and "stoppingAt" in stopping
    assert stopping["lastStatus"] == "RUNNING"  # as ECS answers: the task as it is
    assert ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING"
    ecs.submit_task_state_change(task=arn, status="STOPPED")
    task = ecs.describe_tasks(tasks=[arn])["tasks"][0]
    assert (task["lastStatus"], task["stopCode"], task["stoppedReason"]) == (
        "STOPPED",
        "UserInitiated",
        "enough",
    )


def test_a_task_that_never_started_failed_to_start(hollow: HollowAgents, ecs: Any, cluster: str) -> None:
    hollow.instance(ecs)
    register_task_definition(ecs, "x")
    arn = ecs.run_task(taskDefinition="x")["tasks"][0]["taskArn"]
    ecs.submit_task_state_change(task=arn, status="STOPPED", reason="CannotPullContainerError: no registry")
    task = ecs.describe_tasks(tasks=[arn])["tasks"][0]
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError")


def test_list_tasks_filters_as_the_seeds_describe(hollow: HollowAgents, ecs: Any, cluster: str) -> None:
    first = hollow.instance(ecs)
    register_task_definition(ecs, "a")
    register_task_definition(ecs, "b")
    a = ecs.run_task(taskDefinition="a", startedBy="alice")["tasks"][0]["taskArn"]
    b = ecs.run_task(taskDefinition="b")["tasks"][0]["taskArn"]
    assert sorted(ecs.list_tasks()["taskArns"]) == sorted([a, b])
    assert ecs.list_tasks(family="a")["taskArns"] == [a]
    assert ecs.list_tasks(startedBy="alice")["taskArns"] == [a]
    assert sorted(ecs.list_tasks(containerInstance=first["containerInstanceArn"])["taskArns"]) == sorted(
        [a, b]
    )
    assert ecs.list_tasks(launchType="EXTERNAL")["taskArns"] == []
    assert ecs.list_tasks(desiredStatus="PENDING")["taskArns"] == []
    ecs.stop_task(task=b)
    assert ecs.list_tasks()["taskArns"] == [a]
    assert ecs.list_tasks(desiredStatus="STOPPED")["taskArns"] == [b]
    with pytest.raises(ClientError) as excinfo:
        ecs.list_tasks(startedBy="alice", family="a")
    assert code(excinfo) == "InvalidParameterException"


def test_list_tasks_pages(hollow: HollowAgents, ecs: Any, cluster: str) -> None:
    hollow.instance(ecs, memory=100000)
    register_task_definition(ecs, "x")
    arns = [t["taskArn"] for t in ecs.run_task(taskDefinition="x", count=7)["tasks"]]
    seen, token = [], None
    while True:
        page = ecs.list_tasks(maxResults=3, **({"nextToken": token} if token else {}))
        seen += page["taskArns"]
        token = page.get("nextToken")
        if not token:
            break
    assert sorted(seen) == sorted(arns)


def test_describe_tasks_reports_missing_and_includes_tags(
    hollow: HollowAgents, ecs: Any, cluster: str
) -> None:
    hollow.instance(ecs)
    register_task_definition(ecs, "x")
    arn = ecs.run_task(taskDefinition="x", tags=[{"key": "k", "value": "v"}])["tasks"][0]["taskArn"]
    result = ecs.describe_tasks(tasks=[arn, "0" * 32], include=["TAGS"])
    assert result["tasks"][0]["tags"] == [{"key": "k", "value": "v"}]
    assert result["failures"][0]["reason"] == "MISSING"
    assert "tags" not in ecs.describe_tasks(tasks=[arn])["tasks"][0]


def test_overrides_must_name_containers_of_the_task(hollow: HollowAgents, ecs: Any, cluster: str) -> None:
    hollow.instance(ecs)
    register_task_definition(ecs, "x")
    with pytest.raises(ClientError) as excinfo:
        ecs.run_task(taskDefinition="x", overrides={"containerOverrides": [{"name": "ghost"}]})
    assert code(excinfo) == "InvalidParameterException"


def test_overrides_change_what_a_task_holds(hollow: HollowAgents, ecs: Any, cluster: str) -> None:
    hollow.instance(ecs)
    register_task_definition(ecs, "x")
    task = ecs.run_task(
        taskDefinition="x", overrides={"containerOverrides": [{"name": "app", "memory": 512}]}
    )["tasks"][0]
    assert task["memory"] == "512"


def test_an_inactive_task_definition_cannot_run(hollow: HollowAgents, ecs: Any, cluster: str) -> None:
    hollow.instance(ecs)
    register_task_definition(ecs, "x")
    ecs.deregister_task_definition(taskDefinition="x:1")
    with pytest.raises(ClientError):
        ecs.run_task(taskDefinition="x:1")


def test_fargate_without_local_capacity_is_refused(hollow: HollowAgents, ecs: Any, cluster: str) -> None:
    hollow.instance(ecs)
    register_task_definition(
        ecs,
        "f",
        [container(memory=None)],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
    )
    with pytest.raises(ClientError) as excinfo:
        ecs.run_task(
            taskDefinition="f",
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"]}},
        )
    assert code(excinfo) == "UnsupportedFeatureException"


def test_start_task_places_on_the_named_instances(hollow: HollowAgents, ecs: Any, cluster: str) -> None:
    hollow.instance(ecs)
    second = hollow.instance(ecs)
    register_task_definition(ecs, "x")
    result = ecs.start_task(taskDefinition="x", containerInstances=[second["containerInstanceArn"]])
    assert [t["containerInstanceArn"] for t in result["tasks"]] == [second["containerInstanceArn"]]


def test_a_client_token_makes_run_task_idempotent(hollow: HollowAgents, ecs: Any, cluster: str) -> None:
    hollow.instance(ecs)
    register_task_definition(ecs, "x")
    first = ecs.run_task(taskDefinition="x", clientToken="once")["tasks"]
    again = ecs.run_task(taskDefinition="x", clientToken="once")["tasks"]
    assert [t["taskArn"] for t in again] == [t["taskArn"] for t in first]
    assert len(ecs.list_tasks()["taskArns"]) == 1


def test_a_cluster_with_live_tasks_cannot_be_deleted(hollow: HollowAgents, ecs: Any, cluster: str) -> None:
    instance = hollow.instance(ecs)
    register_task_definition(ecs, "x")
    ecs.run_task(taskDefinition="x")
    hollow.stop_all()  # its agent gone too, or it would register the host again
    ecs.deregister_container_instance(containerInstance=instance["containerInstanceArn"], force=True)
    ecs.delete_cluster(cluster="default")  # the forced deregistration stopped the task


def test_cluster_counts_follow_tasks(hollow: HollowAgents, ecs: Any, cluster: str) -> None:
    hollow.instance(ecs)
    register_task_definition(ecs, "x")
    arns = [t["taskArn"] for t in ecs.run_task(taskDefinition="x", count=2)["tasks"]]
    ecs.submit_task_state_change(task=arns[0], status="RUNNING")
    counts = ecs.describe_clusters()["clusters"][0]
    assert (
        counts["registeredContainerInstancesCount"],
        counts["runningTasksCount"],
        counts["pendingTasksCount"],
    ) == (1, 1, 1)


def test_describe_tasks_with_no_tasks_is_refused(ecs: Any, cluster: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.describe_tasks(tasks=[])
    error = excinfo.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("InvalidParameterException", "Tasks cannot be empty.")
    with pytest.raises(ClientError) as excinfo:
        ecs.describe_tasks(cluster="nowhere", tasks=[])
    assert code(excinfo) == "ClusterNotFoundException"


def test_a_launch_type_outside_the_enum_is_refused_in_ecs_words(ecs: Any, cluster: str) -> None:
    register_task_definition(ecs, "x")
    with pytest.raises(ClientError) as excinfo:
        ecs.run_task(taskDefinition="x", launchType="MOON")
    error = excinfo.value.response["Error"]
    assert error["Code"] == "InvalidParameterException"
    assert error["Message"].startswith("launch type should be one of [EC2,FARGATE,EXTERNAL")


def test_cluster_statistics_count_tasks_per_launch_type(ecs: Any, cluster: str, hollow: HollowAgents) -> None:
    hollow.instance(ecs)
    register_task_definition(ecs, "x")
    arns = [t["taskArn"] for t in ecs.run_task(taskDefinition="x", count=3)["tasks"]]
    ecs.submit_task_state_change(task=arns[0], status="RUNNING")
    ecs.submit_task_state_change(task=arns[1], status="STOPPED")
    described = ecs.describe_clusters(include=["STATISTICS"])["clusters"][0]
    statistics = {s["name"]: s["value"] for s in described["statistics"]}
    assert statistics.pop("runningEC2TasksCount") == "1"
    assert statistics.pop("pendingEC2TasksCount") == "1"
    assert set(statistics.values()) == {"0"}  # nothing on Fargate or external instances, no services


@pytest.mark.parametrize(
    ("action", "member"),
    [
        ("run_task", "volumeConfigurations"),
        ("start_task", "volumeConfigurations"),
        ("list_tasks", "daemonName"),
        ("submit_task_state_change", "attachments"),
        ("submit_task_state_change", "managedAgents"),
        ("submit_attachment_state_changes", "attachments"),
    ],
    ids=[
        "RunTask's EBS volumes",
        "StartTask's EBS volumes",
        "ListTasks by daemon",
        "a task's attachments",
        "a task's managed agents",
        "attachment state changes",
    ],
)
def test_what_dockyard_cannot_honour_is_refused_by_name(
    ecs: Any, cluster: str, hollow: HollowAgents, action: str, member: str
) -> None:
    instance = hollow.instance(ecs)["containerInstanceArn"]
    register_task_definition(ecs, "x")
    task = ecs.run_task(taskDefinition="x")["tasks"][0]["taskArn"]
    volume = [{"name": "data", "managedEBSVolume": {"roleArn": "arn:aws:iam::1:role/ebs"}}]
    attachment = [{"attachmentArn": "arn:aws:ecs:us-east-1:1:attachment/a", "status": "ATTACHED"}]
    calls = {
        ("run_task", "volumeConfigurations"): lambda: ecs.run_task(
            taskDefinition="x", volumeConfigurations=volume
        ),
        ("start_task", "volumeConfigurations"): lambda: ecs.start_task(
            taskDefinition="x", containerInstances=[instance], volumeConfigurations=volume
        ),
        ("list_tasks", "daemonName"): lambda: ecs.list_tasks(daemonName="logs"),
        ("submit_task_state_change", "attachments"): lambda: ecs.submit_task_state_change(
            task=task, status="RUNNING", attachments=attachment
        ),
        ("submit_task_state_change", "managedAgents"): lambda: ecs.submit_task_state_change(
            task=task,
            status="RUNNING",
            managedAgents=[
                {"containerName": "app", "managedAgentName": "ExecuteCommandAgent", "status": "RUNNING"}
            ],
        ),
        ("submit_attachment_state_changes", "attachments"): lambda: ecs.submit_attachment_state_changes(
            attachments=attachment
        ),
    }
    with pytest.raises(ClientError) as excinfo:
        calls[(action, member)]()
    assert code(excinfo) == "UnsupportedFeatureException"
    assert excinfo.value.response["Error"]["Message"].startswith(f"{member} is not supported by Dockyard")
    assert ecs.list_tasks(desiredStatus="RUNNING")["taskArns"] == [task]  # nothing was started
    assert ecs.describe_tasks(tasks=[task])["tasks"][0]["lastStatus"] == "PROVISIONING"  # nor changed
