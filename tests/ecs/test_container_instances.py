"""Container instances through the API, as agents, tools and fleet simulators call it."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.builders import container, register_instance, register_task_definition
from tests.harness import HollowAgents


def code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def resources(instance: dict[str, Any], which: str = "remainingResources") -> dict[str, Any]:
    return {
        r["name"]: r.get("integerValue") if r["type"] == "INTEGER" else sorted(r["stringSetValue"], key=int)
        for r in instance[which]
    }


@pytest.fixture
def cluster(ecs: Any) -> str:
    ecs.create_cluster()
    return "default"


def test_register_takes_facts_from_the_identity_document(ecs: Any, cluster: str, account: Any) -> None:
    instance = register_instance(
        ecs, instance_type="c5.xlarge", zone="eu-west-1b", instance_id="i-0abc0abc0abc0abc0"
    )
    assert instance["ec2InstanceId"] == "i-0abc0abc0abc0abc0"
    assert instance["containerInstanceArn"].startswith(
        f"arn:aws:ecs:us-east-1:{account.account_id}:container-instance/default/"
    )
    attributes = {a["name"]: a.get("value") for a in instance["attributes"]}
    assert attributes["ecs.instance-type"] == "c5.xlarge"
    assert attributes["ecs.availability-zone"] == "eu-west-1b"
    assert attributes["ecs.os-type"] == "linux"
    # As in ECS, a registration is no sign of life: only an agent's connection is.
    assert instance["status"] == "ACTIVE" and instance["agentConnected"] is False
    assert resources(instance, "registeredResources") == {
        "CPU": 2048,
        "MEMORY": 4096,
        "PORTS": ["22"],
        "PORTS_UDP": [],
    }


def test_registering_the_same_ec2_instance_again_is_the_same_container_instance(
    ecs: Any, cluster: str
) -> None:
    first = register_instance(ecs, instance_id="i-0000000000000aaaa")
    again = register_instance(ecs, instance_id="i-0000000000000aaaa", memory=8192)
    assert again["containerInstanceArn"] == first["containerInstanceArn"]
    assert resources(again, "registeredResources")["MEMORY"] == 8192
    assert len(ecs.list_container_instances()["containerInstanceArns"]) == 1


def test_short_arn_format_when_the_account_opts_out(ecs: Any, cluster: str) -> None:
    ecs.put_account_setting(name="containerInstanceLongArnFormat", value="disabled")
    arn = register_instance(ecs)["containerInstanceArn"]
    assert arn.split(":")[-1].count("/") == 1


def test_an_instance_without_an_agent_takes_no_tasks(ecs: Any, cluster: str) -> None:
    instance = register_instance(ecs)
    register_task_definition(ecs, "app")
    result = ecs.run_task(taskDefinition="app")
    assert result["tasks"] == []
    assert result["failures"] == [{"arn": instance["containerInstanceArn"], "reason": "AGENT"}]


def test_remaining_resources_follow_tasks(hollow: HollowAgents, ecs: Any, cluster: str) -> None:
    instance = hollow.instance(ecs, cpu=1024, memory=1000)
    ports = resources(instance, "registeredResources")["PORTS"]  # what the agent reserved
    register_task_definition(
        ecs,
        "web",
        [container("web", memory=300, cpu=100, portMappings=[{"containerPort": 80, "hostPort": 8080}])],
    )
    task = ecs.run_task(taskDefinition="web")["tasks"][0]
    described = ecs.describe_container_instances(containerInstances=[instance["containerInstanceArn"]])
    remaining = resources(described["containerInstances"][0])
    assert remaining == {
        "CPU": 924,
        "MEMORY": 700,
        "PORTS": sorted([*ports, "8080"], key=int),
        "PORTS_UDP": [],
    }
    assert described["containerInstances"][0]["pendingTasksCount"] == 1
    ecs.stop_task(task=task["taskArn"])
    ecs.submit_task_state_change(task=task["taskArn"], status="STOPPED")
    described = ecs.describe_container_instances(containerInstances=[instance["containerInstanceArn"]])
    assert resources(described["containerInstances"][0]) == {
        "CPU": 1024,
        "MEMORY": 1000,
        "PORTS": ports,
        "PORTS_UDP": [],
    }


def test_describe_reports_unknown_instances_as_missing(ecs: Any, cluster: str) -> None:
    result = ecs.describe_container_instances(containerInstances=["0123456789abcdef0123456789abcdef"])
    assert result["containerInstances"] == [] and result["failures"][0]["reason"] == "MISSING"


def test_list_filters_by_status_and_pages(ecs: Any, cluster: str) -> None:
    arns = [register_instance(ecs)["containerInstanceArn"] for _ in range(5)]
    ecs.update_container_instances_state(containerInstances=arns[:2], status="DRAINING")
    assert sorted(ecs.list_container_instances(status="DRAINING")["containerInstanceArns"]) == sorted(
        arns[:2]
    )
    assert sorted(ecs.list_container_instances(status="ACTIVE")["containerInstanceArns"]) == sorted(arns[2:])
    first = ecs.list_container_instances(maxResults=3)
    rest = ecs.list_container_instances(maxResults=3, nextToken=first["nextToken"])
    assert sorted(first["containerInstanceArns"] + rest["containerInstanceArns"]) == sorted(arns)
    assert "nextToken" not in rest


def test_a_draining_instance_takes_no_new_tasks(ecs: Any, cluster: str) -> None:
    instance = register_instance(ecs)
    ecs.update_container_instances_state(
        containerInstances=[instance["containerInstanceArn"]], status="DRAINING"
    )
    register_task_definition(ecs, "app")
    result = ecs.run_task(taskDefinition="app")
    assert result["tasks"] == []
    assert (
        result["failures"] == [{"arn": instance["containerInstanceArn"], "reason": "INACTIVE"}]
        or result["failures"][0]["arn"] == instance["containerInstanceArn"]
    )


def test_deregister_refuses_an_instance_with_tasks_unless_forced(
    hollow: HollowAgents, ecs: Any, cluster: str
) -> None:
    instance = hollow.instance(ecs)
    register_task_definition(ecs, "app")
    task = ecs.run_task(taskDefinition="app")["tasks"][0]
    with pytest.raises(ClientError) as excinfo:
        ecs.deregister_container_instance(containerInstance=instance["containerInstanceArn"])
    assert code(excinfo) == "InvalidParameterException"
    hollow.stop_all()  # its agent gone too, or it would register the host again
    gone = ecs.deregister_container_instance(containerInstance=instance["containerInstanceArn"], force=True)
    assert gone["containerInstance"]["status"] == "INACTIVE"
    stopped = ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"][0]
    assert stopped["lastStatus"] == "STOPPED"
    assert ecs.list_container_instances()["containerInstanceArns"] == []
    ecs.delete_cluster(cluster="default")


def test_a_cluster_with_instances_cannot_be_deleted(ecs: Any, cluster: str) -> None:
    register_instance(ecs)
    with pytest.raises(ClientError) as excinfo:
        ecs.delete_cluster(cluster="default")
    assert code(excinfo) == "ClusterContainsContainerInstancesException"


def test_update_container_agent_without_a_newer_version_is_refused(ecs: Any, cluster: str) -> None:
    instance = register_instance(ecs, agent_version="99.0.0")
    with pytest.raises(ClientError) as excinfo:
        ecs.update_container_agent(containerInstance=instance["containerInstanceArn"])
    assert code(excinfo) == "NoUpdateAvailableException"


def test_update_container_agent_marks_an_old_agent_pending(ecs: Any, cluster: str) -> None:
    instance = register_instance(ecs, agent_version="0.0.1")
    updated = ecs.update_container_agent(containerInstance=instance["containerInstanceArn"])[
        "containerInstance"
    ]
    assert updated["agentUpdateStatus"] == "PENDING"
    with pytest.raises(ClientError) as excinfo:
        ecs.update_container_agent(containerInstance=instance["containerInstanceArn"])
    assert code(excinfo) == "UpdateInProgressException"


def test_discover_poll_endpoint_names_this_server(server: Any, ecs: Any, cluster: str) -> None:
    instance = register_instance(ecs)
    endpoint = ecs.discover_poll_endpoint(containerInstance=instance["containerInstanceArn"])["endpoint"]
    assert endpoint == server.endpoint + "/"


def test_registration_needs_an_existing_cluster(ecs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        register_instance(ecs, cluster="nope")
    assert code(excinfo) == "ClusterNotFoundException"


def test_another_account_cannot_see_the_instances(server: Any, ecs: Any, cluster: str) -> None:
    instance = register_instance(ecs)
    other = server.client(server.new_account())
    other.create_cluster()
    assert other.list_container_instances()["containerInstanceArns"] == []
    described = other.describe_container_instances(containerInstances=[instance["containerInstanceArn"]])
    assert described["failures"][0]["reason"] == "MISSING"


def test_list_filters_with_the_cluster_query_language(ecs: Any, cluster: str) -> None:
    small = register_instance(ecs, instance_type="t2.micro", zone="us-east-1a")
    large = register_instance(
        ecs, instance_type="m5.large", zone="us-east-1b", attributes=[{"name": "stack", "value": "prod"}]
    )

    def listed(expression: str) -> list[str]:
        return ecs.list_container_instances(filter=expression)["containerInstanceArns"]

    assert listed("attribute:ecs.instance-type == t2.micro") == [small["containerInstanceArn"]]
    assert listed("attribute:ecs.instance-type =~ t2.*") == [small["containerInstanceArn"]]
    assert listed("attribute:stack exists") == [large["containerInstanceArn"]]
    assert sorted(listed("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]")) == sorted(
        [small["containerInstanceArn"], large["containerInstanceArn"]]
    )
    assert listed("attribute:ecs.instance-type == t2.micro and attribute:stack exists") == []
    with pytest.raises(ClientError) as excinfo:
        listed("attribute:ecs.instance-type ==")
    assert code(excinfo) == "InvalidParameterException"


def test_a_filtered_list_pages(ecs: Any, cluster: str) -> None:
    arns = [register_instance(ecs, instance_type="t2.micro")["containerInstanceArn"] for _ in range(4)]
    register_instance(ecs, instance_type="m5.large")
    first = ecs.list_container_instances(filter="attribute:ecs.instance-type == t2.micro", maxResults=3)
    rest = ecs.list_container_instances(
        filter="attribute:ecs.instance-type == t2.micro", maxResults=3, nextToken=first["nextToken"]
    )
    assert sorted(first["containerInstanceArns"] + rest["containerInstanceArns"]) == sorted(arns)


def test_an_agent_that_re_registers_with_the_offered_version_completes_the_update(
    ecs: Any, cluster: str
) -> None:
    from dockyard.agent.version import AGENT_VERSION

    instance = register_instance(ecs, agent_version="0.0.1", instance_id="i-0000000000000bbbb")
    ecs.update_container_agent(containerInstance=instance["containerInstanceArn"])
    again = register_instance(ecs, agent_version=AGENT_VERSION, instance_id="i-0000000000000bbbb")
    assert again["agentUpdateStatus"] == "UPDATED"
    assert again["versionInfo"]["agentVersion"] == AGENT_VERSION


def test_the_agent_package_is_served_to_signed_requests_only(server: Any, account: Any) -> None:
    import io
    import tarfile
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    url = server.endpoint + "/_dockyard/agent/package"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=60)
    assert refused.value.code == 403
    refused.value.close()
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(BotoCredentials(account.access_key_id, account.secret_access_key), "ecs", "us-east-1").add_auth(
        request
    )
    with (
        urllib.request.urlopen(
            urllib.request.Request(url, headers=dict(request.prepare().headers)), timeout=60
        ) as reply,
        tarfile.open(fileobj=io.BytesIO(reply.read()), mode="r:gz") as archive,
    ):
        names = archive.getnames()
    assert "dockyard/agent/version.py" in names


def test_describe_with_no_instances_is_refused(ecs: Any, cluster: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.describe_container_instances(cluster=cluster, containerInstances=[])
    error = excinfo.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "InvalidParameterException",
        "Container instance cannot be empty.",
    )
    with pytest.raises(ClientError) as excinfo:
        ecs.describe_container_instances(cluster="nowhere", containerInstances=[])
    assert excinfo.value.response["Error"]["Code"] == "ClusterNotFoundException"


def test_a_describe_after_each_write_shows_the_write(ecs: Any, cluster: str) -> None:
    # Renders and answers are kept between requests (caching.BoundedCache): none may outlive a write.
    instance = register_instance(ecs, memory=4096, agent_version="0.0.1", instance_id="i-0000000000000cccc")
    arn = instance["containerInstanceArn"]

    def described() -> dict[str, Any]:
        return dict(ecs.describe_container_instances(containerInstances=[arn])["containerInstances"][0])

    assert described()["status"] == "ACTIVE"
    ecs.update_container_instances_state(containerInstances=[arn], status="DRAINING")
    assert described()["status"] == "DRAINING"
    ecs.update_container_agent(containerInstance=arn)
    assert described()["agentUpdateStatus"] == "PENDING"
    register_instance(ecs, memory=8192, agent_version="0.0.2", instance_id="i-0000000000000cccc")
    again = described()
    assert resources(again, "registeredResources")["MEMORY"] == 8192
    assert again["versionInfo"]["agentVersion"] == "0.0.2"
    ecs.put_attributes(attributes=[{"name": "stack", "value": "blue", "targetId": arn}])
    assert {"name": "stack", "value": "blue"} in described()["attributes"]
    ecs.put_attributes(attributes=[{"name": "stack", "value": "green", "targetId": arn}])
    assert {"name": "stack", "value": "green"} in described()["attributes"]
