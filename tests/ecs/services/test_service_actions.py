"""CreateService, UpdateService, DeleteService, DescribeServices, ListServices and the service
deployment actions through boto3, on both stores (no instances: nothing gets placed)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


@pytest.fixture(autouse=True)
def default_cluster(ecs: Any) -> None:
    ecs.create_cluster(clusterName="default")


def _definition(ecs: Any, family: str = "web", **extra: Any) -> str:
    container = {"name": "web", "image": "busybox", "memory": 32, "command": ["sleep", "60"], **extra}
    return str(
        ecs.register_task_definition(family=family, containerDefinitions=[container])["taskDefinition"][
            "taskDefinitionArn"
        ]
    )


def _code(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return error.value.response["Error"]["Code"], error.value.response["Error"]["Message"]


def test_create_describe_list_a_service(ecs: Any) -> None:
    arn = _definition(ecs)
    service = ecs.create_service(
        serviceName="web", taskDefinition="web", desiredCount=2, tags=[{"key": "team", "value": "a"}]
    )["service"]
    assert service["serviceArn"].endswith(":service/default/web")
    assert service["status"] == "ACTIVE" and service["desiredCount"] == 2
    assert service["taskDefinition"] == arn
    assert service["schedulingStrategy"] == "REPLICA" and service["launchType"] == "EC2"
    assert service["deploymentConfiguration"]["maximumPercent"] == 200
    assert service["deploymentConfiguration"]["minimumHealthyPercent"] == 100
    [deployment] = service["deployments"]
    assert deployment["status"] == "PRIMARY" and deployment["rolloutState"] == "IN_PROGRESS"
    assert deployment["id"].startswith("ecs-svc/") and deployment["desiredCount"] == 2
    described = ecs.describe_services(services=["web", "nope"], include=["TAGS"])
    assert described["services"][0]["tags"] == [{"key": "team", "value": "a"}]
    assert described["failures"][0]["reason"] == "MISSING"
    assert ecs.list_services()["serviceArns"] == [service["serviceArn"]]
    assert ecs.list_services(schedulingStrategy="DAEMON")["serviceArns"] == []
    cluster = ecs.describe_clusters(include=["STATISTICS"])["clusters"][0]
    assert cluster["activeServicesCount"] == 1
    assert {s["name"]: s["value"] for s in cluster["statistics"]}["activeEC2ServiceCount"] == "1"


def test_a_service_that_cannot_be_placed_says_why(ecs: Any) -> None:
    _definition(ecs)
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=1)

    def event() -> Any:
        messages = [e["message"] for e in ecs.describe_services(services=["web"])["services"][0]["events"]]
        return any("was unable to place a task" in m for m in messages) and messages

    from tests.harness import wait_for

    messages = wait_for(event, 120)
    assert "No Container Instances were found in your cluster" in messages[0]


def test_list_services_pages(ecs: Any) -> None:
    _definition(ecs)
    for index in range(5):
        ecs.create_service(serviceName=f"s{index}", taskDefinition="web", desiredCount=0)
    first = ecs.list_services(maxResults=3)
    second = ecs.list_services(maxResults=3, nextToken=first["nextToken"])
    assert len(first["serviceArns"]) == 3 and len(second["serviceArns"]) == 2
    assert "nextToken" not in second


def test_create_with_the_same_client_token_is_idempotent(ecs: Any) -> None:
    _definition(ecs)
    first = ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=1, clientToken="t1")
    again = ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=1, clientToken="t1")
    assert first["service"]["serviceArn"] == again["service"]["serviceArn"]
    assert len(ecs.list_services()["serviceArns"]) == 1
    with pytest.raises(ClientError) as error:
        ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=3, clientToken="t1")
    assert _code(error) == ("InvalidParameterException", "Creation of service was not idempotent.")
    with pytest.raises(ClientError) as error:
        ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=5)
    assert _code(error)[1] == "Creation of service was not idempotent."


@pytest.mark.parametrize(
    ("request_members", "code", "words"),
    [
        ({"cluster": "nope"}, "ClusterNotFoundException", "Cluster not found."),
        ({"taskDefinition": "missing"}, "ClientException", ""),
        ({"desiredCount": -1}, "InvalidParameterException", "desiredCount"),
        (
            {"deploymentConfiguration": {"minimumHealthyPercent": 150, "maximumPercent": 100}},
            "InvalidParameterException",
            "maximumPercent",
        ),
        ({"schedulingStrategy": "DAEMON"}, "InvalidParameterException", "desired count"),
        (
            {"schedulingStrategy": "DAEMON", "desiredCount": None, "placementStrategy": [{"type": "random"}]},
            "InvalidParameterException",
            "placement strategies",
        ),
        ({"serviceName": "bad name!"}, "InvalidParameterException", "Service name"),
        (
            {"loadBalancers": [{"targetGroupArn": "x", "containerName": "web", "containerPort": 80}]},
            "UnsupportedFeatureException",
            "loadBalancers",
        ),
        ({"deploymentController": {"type": "CODE_DEPLOY"}}, "UnsupportedFeatureException", "CODE_DEPLOY"),
    ],
    ids=[
        "unknown cluster",
        "unknown task definition",
        "negative desired count",
        "minimum above maximum",
        "daemon with a desired count",
        "daemon with a placement strategy",
        "bad service name",
        "load balancers",
        "another deployment controller",
    ],
)
def test_bad_create_requests_get_ecs_errors(
    ecs: Any, request_members: dict[str, Any], code: str, words: str
) -> None:
    _definition(ecs)
    params: dict[str, Any] = {
        "serviceName": "web",
        "taskDefinition": "web",
        "desiredCount": 1,
        **request_members,
    }
    params = {key: value for key, value in params.items() if value is not None}
    with pytest.raises(ClientError) as error:
        ecs.create_service(**params)
    assert _code(error)[0] == code
    assert words in _code(error)[1]
    assert ecs.list_services()["serviceArns"] == [], "nothing half-written"


def test_update_starts_a_new_deployment_only_when_needed(ecs: Any) -> None:
    _definition(ecs)
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=0)
    scaled = ecs.update_service(service="web", desiredCount=3)["service"]
    assert len(scaled["deployments"]) == 1 and scaled["deployments"][0]["desiredCount"] == 3
    second = _definition(ecs)
    updated = ecs.update_service(service="web", taskDefinition="web")["service"]
    assert [d["status"] for d in updated["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert updated["deployments"][0]["taskDefinition"] == second
    forced = ecs.update_service(service="web", forceNewDeployment=True)["service"]
    assert forced["deployments"][0]["id"] != updated["deployments"][0]["id"]
    listed = ecs.list_service_deployments(service="web")["serviceDeployments"]
    assert len(listed) == 3
    described = ecs.describe_service_deployments(serviceDeploymentArns=[listed[0]["serviceDeploymentArn"]])
    deployment = described["serviceDeployments"][0]
    assert deployment["status"] == "IN_PROGRESS"
    revisions = ecs.describe_service_revisions(
        serviceRevisionArns=[deployment["targetServiceRevision"]["arn"]]
    )
    assert revisions["serviceRevisions"][0]["taskDefinition"] == second
    assert revisions["serviceRevisions"][0]["containerImages"] == [
        {"containerName": "web", "image": "busybox"}
    ]


def test_delete_needs_force_above_zero_and_leaves_an_inactive_service(ecs: Any) -> None:
    _definition(ecs)
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=1)
    with pytest.raises(ClientError) as error:
        ecs.delete_service(service="web")
    assert _code(error) == (
        "InvalidParameterException",
        "The service cannot be stopped while it is scaled above 0.",
    )
    deleted = ecs.delete_service(service="web", force=True)["service"]
    assert deleted["status"] == "DRAINING" and deleted["desiredCount"] == 0
    from tests.harness import wait_for

    wait_for(lambda: ecs.describe_services(services=["web"])["services"][0]["status"] == "INACTIVE", 120)
    assert ecs.list_services()["serviceArns"] == []
    with pytest.raises(ClientError) as error:
        ecs.update_service(service="web", desiredCount=2)
    assert _code(error) == ("ServiceNotActiveException", "Service was not ACTIVE.")
    with pytest.raises(ClientError) as error:
        ecs.update_service(service="never", desiredCount=2)
    assert _code(error)[0] == "ServiceNotFoundException"
    again = ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=0)["service"]
    assert again["status"] == "ACTIVE", "a deleted service's name can be used again"


def test_another_account_sees_no_service(server: Any, ecs: Any) -> None:
    _definition(ecs)
    arn = ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=0)["service"]["serviceArn"]
    other = server.client(server.new_account())
    other.create_cluster(clusterName="default")  # its own default cluster
    assert other.describe_services(services=[arn])["failures"][0]["reason"] == "MISSING"
    with pytest.raises(ClientError) as error:
        other.update_service(service=arn, desiredCount=1)
    assert _code(error)[0] == "ServiceNotFoundException"
