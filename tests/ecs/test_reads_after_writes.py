"""Every read-only action whose answer is kept between requests (protocol.read_cache, and the
instances' renders) shows a write in the next request: read, write, read again, through boto3
on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import register_instance, register_task_definition
from tests.harness import HollowAgents


@pytest.fixture
def cluster(ecs: Any) -> str:
    ecs.create_cluster()
    return "default"


def test_clusters(ecs: Any, cluster: str) -> None:
    def described() -> dict[str, Any]:
        return dict(ecs.describe_clusters(clusters=["default"], include=["SETTINGS", "TAGS"])["clusters"][0])

    assert described()["tags"] == []
    arn = described()["clusterArn"]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "a"}])
    assert described()["tags"] == [{"key": "team", "value": "a"}]
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "a"}]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "b"}])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "b"}]
    insights = [{"name": "containerInsights", "value": "enabled"}]
    ecs.update_cluster_settings(cluster="default", settings=insights)
    assert {"name": "containerInsights", "value": "enabled"} in described()["settings"]
    assert described()["registeredContainerInstancesCount"] == 0
    register_instance(ecs)
    assert described()["registeredContainerInstancesCount"] == 1
    before = ecs.list_clusters()["clusterArns"]
    ecs.create_cluster(clusterName="second")
    assert len(ecs.list_clusters()["clusterArns"]) == len(before) + 1
    ecs.delete_cluster(cluster="second")
    second = ecs.describe_clusters(clusters=["second"])["clusters"][0]
    assert second["status"] == "INACTIVE"


def test_task_definitions(ecs: Any) -> None:
    first = register_task_definition(ecs, "web")
    assert ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["revision"] == 1
    assert ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"] == [first["taskDefinitionArn"]]
    second = register_task_definition(ecs, "web")
    assert ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["revision"] == 2
    assert ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"] == [
        first["taskDefinitionArn"],
        second["taskDefinitionArn"],
    ]
    assert ecs.list_task_definition_families(familyPrefix="we")["families"] == ["web"]
    register_task_definition(ecs, "west")
    assert ecs.list_task_definition_families(familyPrefix="we")["families"] == ["web", "west"]
    ecs.deregister_task_definition(taskDefinition=first["taskDefinitionArn"])
    described = ecs.describe_task_definition(taskDefinition=first["taskDefinitionArn"])["taskDefinition"]
    assert described["status"] == "INACTIVE"


def test_tasks_and_instances(hollow: HollowAgents, ecs: Any, cluster: str) -> None:
    instance = hollow.instance(ecs)
    arn = instance["containerInstanceArn"]
    register_task_definition(ecs, "web")

    def counts() -> tuple[int, int]:
        described = ecs.describe_container_instances(containerInstances=[arn])["containerInstances"][0]
        return described["pendingTasksCount"] + described["runningTasksCount"], described["version"]

    assert counts()[0] == 0
    assert ecs.list_tasks()["taskArns"] == []
    task = ecs.run_task(taskDefinition="web")["tasks"][0]
    assert counts()[0] == 1
    assert ecs.list_tasks()["taskArns"] == [task["taskArn"]]
    assert ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"][0]["desiredStatus"] == "RUNNING"
    ecs.stop_task(task=task["taskArn"])
    assert ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"][0]["desiredStatus"] == "STOPPED"
    assert ecs.list_tasks(desiredStatus="STOPPED")["taskArns"] == [task["taskArn"]]
    assert ecs.list_container_instances()["containerInstanceArns"] == [arn]
    other = register_instance(ecs)["containerInstanceArn"]
    assert sorted(ecs.list_container_instances()["containerInstanceArns"]) == sorted([arn, other])
    assert ecs.list_attributes(targetType="container-instance", attributeName="stack")["attributes"] == []
    ecs.put_attributes(attributes=[{"name": "stack", "value": "blue", "targetId": arn}])
    listed = ecs.list_attributes(targetType="container-instance", attributeName="stack")["attributes"]
    assert [item["value"] for item in listed] == ["blue"]


def test_services(ecs: Any, cluster: str) -> None:
    register_task_definition(ecs, "web")
    assert ecs.list_services()["serviceArns"] == []
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=0)
    assert len(ecs.list_services()["serviceArns"]) == 1
    assert ecs.describe_services(services=["web"])["services"][0]["desiredCount"] == 0
    ecs.update_service(service="web", desiredCount=0, healthCheckGracePeriodSeconds=5)
    ecs.update_service(service="web", desiredCount=3)
    assert ecs.describe_services(services=["web"])["services"][0]["desiredCount"] == 3


def test_account_settings_are_each_principals_own(server: Any, account: Any, ecs: Any) -> None:
    # Two users of one account ask the same question: each gets their own answer.
    other = server.client(server.new_account(account.account_id, user_name="other"))

    def effective(client: Any) -> str:
        settings = client.list_account_settings(name="taskLongArnFormat", effectiveSettings=True)["settings"]
        return str(settings[0]["value"])

    assert effective(ecs) == effective(other) == "enabled"
    ecs.put_account_setting(name="taskLongArnFormat", value="disabled")
    assert effective(ecs) == "disabled"
    assert effective(other) == "enabled"
