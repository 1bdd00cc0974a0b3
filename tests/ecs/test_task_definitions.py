"""Task definitions through boto3 against a real server (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from dockyard.context import Identity, RequestContext
from dockyard.ecs import task_definitions
from dockyard.errors import ClientException
from dockyard.protocol.models import service_model
from dockyard.store.db import make_engine, sqlite_url, transaction
from dockyard.store.migrate import upgrade
from tests.harness import DockyardServer

ContainerDefinition = dict[str, Any]


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def container(name: str = "app", **members: Any) -> ContainerDefinition:
    """A container definition; a member given as None is left out."""
    given = {"name": name, "image": "nginx:1.27", "memory": 128, **members}
    return {key: value for key, value in given.items() if value is not None}


def register(ecs: Any, family: str = "web", *containers: ContainerDefinition, **members: Any) -> Any:
    definitions = list(containers) or [container()]
    return ecs.register_task_definition(family=family, containerDefinitions=definitions, **members)


def arn_of(account: Any, family: str, revision: int, region: str = "us-east-1") -> str:
    return f"arn:aws:ecs:{region}:{account.account_id}:task-definition/{family}:{revision}"


def all_pages(call: Any, key: str, **kwargs: Any) -> list[list[str]]:
    pages, token = [], None
    while True:
        page = call(**kwargs, **({"nextToken": token} if token else {}))
        pages.append(page[key])
        token = page.get("nextToken")
        if not token:
            return pages


# --- RegisterTaskDefinition ---------------------------------------------------------------


def test_a_task_definition_near_64_kib_is_answered_as_it_is_stored(ecs: Any, server: DockyardServer) -> None:
    # A body this large is checked and answered off the event loop (protocol/endpoint.py), and
    # the answer is rendered from what was written rather than read back.
    environment = [{"name": f"V{index:03d}", "value": "x" * 200} for index in range(284)]
    registered = register(ecs, "large", container(environment=environment), tags=[{"key": "k", "value": "v"}])
    described = ecs.describe_task_definition(taskDefinition="large:1", include=["TAGS"])
    assert registered["taskDefinition"] == described["taskDefinition"]
    assert registered["tags"] == described["tags"] == [{"key": "k", "value": "v"}]
    with pytest.raises(ClientError) as excinfo:  # refused on the worker thread, in ECS's words
        register(ecs, "large", container(environment=environment, memory=-5))
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Traceback" not in server.log()


def test_register_returns_the_task_definition_with_ecs_defaults(ecs: Any, account: Any) -> None:
    before = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=5)
    result = register(
        ecs,
        "web",
        container(portMappings=[{"containerPort": 80}]),
        tags=[{"key": "team", "value": "a"}],
    )
    definition = result["taskDefinition"]
    assert definition["taskDefinitionArn"] == arn_of(account, "web", 1)
    assert (definition["family"], definition["revision"], definition["status"]) == (
        "web",
        1,
        "ACTIVE",
    )
    assert definition["containerDefinitions"] == [
        {
            "name": "app",
            "image": "nginx:1.27",
            "memory": 128,
            "cpu": 0,
            "essential": True,
            "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
            "environment": [],
            "mountPoints": [],
            "volumesFrom": [],
            "systemControls": [],
        }
    ]
    assert definition["volumes"] == []
    assert definition["placementConstraints"] == []
    assert definition["compatibilities"] == ["EXTERNAL", "EC2"]
    assert definition["requiresAttributes"] == []
    assert definition["registeredBy"] == f"arn:aws:iam::{account.account_id}:user/tester"
    assert before <= definition["registeredAt"] <= before + datetime.timedelta(seconds=60)
    for absent in ("networkMode", "cpu", "memory", "requiresCompatibilities", "deregisteredAt"):
        assert absent not in definition
    assert result["tags"] == [{"key": "team", "value": "a"}]


def test_every_container_member_comes_back_as_given(ecs: Any) -> None:
    rich = container(
        "app",
        cpu=256,
        memory=512,
        memoryReservation=256,
        essential=True,
        links=["db:database"],
        entryPoint=["/entry"],
        command=["serve", "--port", "80"],
        environment=[{"name": "MODE", "value": "prod"}],
        environmentFiles=[{"value": "arn:aws:s3:::bucket/app.env", "type": "s3"}],
        mountPoints=[{"sourceVolume": "data", "containerPath": "/data", "readOnly": True}],
        volumesFrom=[{"sourceContainer": "db", "readOnly": False}],
        linuxParameters={
            "capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]},
            "initProcessEnabled": True,
            "sharedMemorySize": 64,
            "tmpfs": [{"containerPath": "/tmp", "size": 64, "mountOptions": ["rw"]}],
        },
        secrets=[{"name": "TOKEN", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/token"}],
        dependsOn=[{"containerName": "db", "condition": "HEALTHY"}],
        startTimeout=60,
        stopTimeout=30,
        hostname="web",
        user="1000:1000",
        workingDirectory="/srv",
        disableNetworking=False,
        privileged=False,
        readonlyRootFilesystem=True,
        dnsServers=["10.0.0.2"],
        dnsSearchDomains=["internal"],
        extraHosts=[{"hostname": "db.local", "ipAddress": "10.0.0.3"}],
        dockerSecurityOptions=["no-new-privileges"],
        interactive=False,
        pseudoTerminal=False,
        dockerLabels={"com.example.team": "web"},
        ulimits=[{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
        logConfiguration={"logDriver": "json-file", "options": {"max-size": "10m"}},
        healthCheck={
            "command": ["CMD-SHELL", "curl -f localhost"],
            "interval": 10,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 5,
        },
        systemControls=[{"namespace": "net.core.somaxconn", "value": "1024"}],
        resourceRequirements=[{"type": "GPU", "value": "1"}],
        portMappings=[
            {
                "containerPort": 80,
                "hostPort": 8080,
                "protocol": "tcp",
                "name": "http",
                "appProtocol": "http",
            }
        ],
        restartPolicy={"enabled": True, "ignoredExitCodes": [0], "restartAttemptPeriod": 60},
        versionConsistency="disabled",
        credentialSpecs=["credentialspecdomainless:arn:aws:s3:::x"],
    )
    db = container("db", essential=False, healthCheck={"command": ["CMD", "true"]})
    definition = register(
        ecs,
        "rich",
        rich,
        db,
        volumes=[{"name": "data", "host": {"sourcePath": "/d"}}],
        taskRoleArn="arn:aws:iam::1:role/task",
        pidMode="task",
        ipcMode="none",
        placementConstraints=[{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}],
    )["taskDefinition"]
    assert definition["containerDefinitions"][0] == rich
    assert definition["volumes"] == [{"name": "data", "host": {"sourcePath": "/d"}}]
    assert definition["taskRoleArn"] == "arn:aws:iam::1:role/task"
    assert (definition["pidMode"], definition["ipcMode"]) == ("task", "none")
    assert definition["placementConstraints"] == [
        {"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}
    ]
    names = {attribute["name"] for attribute in definition["requiresAttributes"]}
    assert {
        "com.amazonaws.ecs.capability.task-iam-role",
        "ecs.capability.container-ordering",
        "ecs.capability.container-health-check",
        "com.amazonaws.ecs.capability.logging-driver.json-file",
    } <= names
    described = ecs.describe_task_definition(taskDefinition="rich:1")["taskDefinition"]
    assert described == definition


def test_revisions_count_up_per_family(ecs: Any, account: Any) -> None:
    assert [register(ecs, "a")["taskDefinition"]["revision"] for _ in range(3)] == [1, 2, 3]
    assert register(ecs, "b")["taskDefinition"]["revision"] == 1
    assert register(ecs, "a")["taskDefinition"]["taskDefinitionArn"] == arn_of(account, "a", 4)


def test_revisions_are_never_reused_even_after_delete(ecs: Any) -> None:
    register(ecs, "web")
    register(ecs, "web")
    for revision in ("web:1", "web:2"):
        ecs.deregister_task_definition(taskDefinition=revision)
    ecs.delete_task_definitions(taskDefinitions=["web:1", "web:2"])
    assert register(ecs, "web")["taskDefinition"]["revision"] == 3


def test_concurrent_registrations_get_distinct_revisions(server: DockyardServer, account: Any) -> None:
    clients = [server.client(account) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        revisions = list(
            pool.map(
                lambda index: register(clients[index % 8], "busy")["taskDefinition"]["revision"],
                range(40),
            )
        )
    assert sorted(revisions) == list(range(1, 41))
    listed = all_pages(clients[0].list_task_definitions, "taskDefinitionArns", familyPrefix="busy")
    assert len(sum(listed, [])) == 40


def test_task_cpu_and_memory_are_normalized_to_units(ecs: Any) -> None:
    definition = register(ecs, "sized", container(memory=None), cpu="1 vCPU", memory="2 GB")["taskDefinition"]
    assert (definition["cpu"], definition["memory"]) == ("1024", "2048")
    described = ecs.describe_task_definition(taskDefinition="sized")["taskDefinition"]
    assert (described["cpu"], described["memory"]) == ("1024", "2048")


def test_fargate_task_definition(ecs: Any) -> None:
    definition = register(
        ecs,
        "serverless",
        container(memory=None, portMappings=[{"containerPort": 8080}]),
        networkMode="awsvpc",
        cpu=".5 vcpu",
        memory="1GB",
        requiresCompatibilities=["FARGATE"],
        executionRoleArn="arn:aws:iam::1:role/exec",
    )["taskDefinition"]
    assert definition["networkMode"] == "awsvpc"
    assert (definition["cpu"], definition["memory"]) == ("512", "1024")
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert definition["compatibilities"] == ["EC2", "FARGATE"]
    assert definition["containerDefinitions"][0]["portMappings"] == [
        {"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}
    ]
    assert {"name": "ecs.capability.task-eni"} in definition["requiresAttributes"]


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (
            {"networkMode": "bridge", "cpu": "256", "memory": "512"},
            "Fargate only supports network mode ‘awsvpc’.",
        ),
        (
            {"networkMode": "awsvpc", "memory": "512"},
            "Fargate requires that 'cpu' be defined at the task level.",
        ),
        (
            {"networkMode": "awsvpc", "cpu": "1024", "memory": "1024"},
            "No Fargate configuration exists for given values: 1024 CPU, 1024 memory. "
            "See the Amazon ECS documentation for the valid values.",
        ),
    ],
    ids=["bridge mode", "no task cpu", "no such size"],
)
def test_fargate_refuses_what_it_cannot_run(ecs: Any, members: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        register(
            ecs,
            "serverless",
            container(memory=None),
            requiresCompatibilities=["FARGATE"],
            **members,
        )
    assert error_of(excinfo) == ("ClientException", message)


def test_fargate_refuses_the_host_pid_mode(ecs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        register(
            ecs,
            "serverless",
            container(memory=None),
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            pidMode="host",
        )
    assert error_of(excinfo) == (
        "ClientException",
        "Tasks using the Fargate launch type do not support pidMode 'host'. "
        "The supported value for pidMode is 'task'.",
    )
    ec2 = register(ecs, "onhosts", container(), pidMode="host")["taskDefinition"]
    assert ec2["pidMode"] == "host"


def test_an_efs_volume_gets_the_root_directory_by_default(ecs: Any) -> None:
    volumes = [
        {"name": "shared", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}},
        {"name": "sub", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "/data"}},
    ]
    registered = register(ecs, "efs", container(), volumes=volumes)["taskDefinition"]
    described = ecs.describe_task_definition(taskDefinition="efs")["taskDefinition"]
    for definition in (registered, described):
        assert [v["efsVolumeConfiguration"] for v in definition["volumes"]] == [
            {"fileSystemId": "fs-1", "rootDirectory": "/"},
            {"fileSystemId": "fs-1", "rootDirectory": "/data"},
        ]


INVALID = [
    pytest.param({"family": "bad.family"}, "ClientException", "Invalid family name", id="family"),
    pytest.param(
        {"containerDefinitions": [container("a", essential=False)]},
        "ClientException",
        "Task definition doesn't have any essential container.",
        id="no essential container",
    ),
    pytest.param(
        {"containerDefinitions": [container("a"), container("a")]},
        "ClientException",
        "Container names must be unique",
        id="duplicate container names",
    ),
    pytest.param(
        {"containerDefinitions": [container("a b")]},
        "ClientException",
        "Invalid container name",
        id="container name",
    ),
    pytest.param(
        {"containerDefinitions": [container(f"c{i}") for i in range(11)]},
        "ClientException",
        "at most 10",
        id="eleven containers",
    ),
    pytest.param(
        {"containerDefinitions": [container(memory=None)]},
        "ClientException",
        "Invalid setting for container 'app'. At least one of 'memory' or "
        "'memoryReservation' must be specified.",
        id="no memory",
    ),
    pytest.param(
        {"containerDefinitions": [container(memory=64, memoryReservation=100)]},
        "ClientException",
        "'memory' must be greater than or equal to 'memoryReservation'",
        id="reservation above memory",
    ),
    pytest.param(
        {"containerDefinitions": [container(memory=4)]},
        "ClientException",
        "The minimum is 6 MiB.",
        id="tiny memory",
    ),
    pytest.param(
        {
            "containerDefinitions": [container("a", memory=300), container("b", memory=300)],
            "memory": "512",
        },
        "ClientException",
        "The sum of all container 'memory' values cannot be greater than the value of the task 'memory'.",
        id="containers above task memory",
    ),
    pytest.param(
        {"containerDefinitions": [container(cpu=512)], "cpu": "256"},
        "ClientException",
        "The sum of all container 'cpu' values",
        id="containers above task cpu",
    ),
    pytest.param(
        {"cpu": "two"},
        "InvalidParameterException",
        "Invalid 'cpu' setting for task.",
        id="unreadable cpu",
    ),
    pytest.param(
        {"memory": "2 TB"},
        "InvalidParameterException",
        "Invalid 'memory' setting for task.",
        id="unreadable memory",
    ),
    pytest.param(
        {
            "networkMode": "awsvpc",
            "containerDefinitions": [container(portMappings=[{"containerPort": 80, "hostPort": 81}])],
        },
        "ClientException",
        "When networkMode=awsvpc, the host ports and container ports in port mappings must match.",
        id="awsvpc host port",
    ),
    pytest.param(
        {
            "networkMode": "host",
            "containerDefinitions": [container(portMappings=[{"containerPort": 80, "hostPort": 81}])],
        },
        "ClientException",
        "When networkMode=host,",
        id="host mode host port",
    ),
    pytest.param(
        {
            "networkMode": "awsvpc",
            "containerDefinitions": [container("a", links=["b"]), container("b")],
        },
        "ClientException",
        "Links are not supported when networkMode=awsvpc.",
        id="links",
    ),
    pytest.param(
        {"containerDefinitions": [container(dependsOn=[{"containerName": "db", "condition": "START"}])]},
        "ClientException",
        "Unknown container 'db'.",
        id="dependsOn",
    ),
    pytest.param(
        {"containerDefinitions": [container(mountPoints=[{"sourceVolume": "data", "containerPath": "/d"}])]},
        "ClientException",
        "Unknown volume 'data'.",
        id="mount point",
    ),
    pytest.param(
        {"containerDefinitions": [container(volumesFrom=[{"sourceContainer": "db"}])]},
        "ClientException",
        "Invalid 'volumesFrom' setting",
        id="volumesFrom",
    ),
    pytest.param(
        {"volumes": [{"name": "v"}, {"name": "v"}]},
        "ClientException",
        "Volume names must be unique",
        id="duplicate volumes",
    ),
    pytest.param(
        {"tags": [{"key": "aws:reserved", "value": "x"}]},
        "InvalidParameterException",
        "reserved prefix",
        id="reserved tag",
    ),
]


@pytest.mark.parametrize(("members", "code", "fragment"), INVALID)
def test_invalid_registrations_are_refused_and_leave_nothing(
    ecs: Any, members: dict[str, Any], code: str, fragment: str
) -> None:
    request = {"family": "web", "containerDefinitions": [container()], **members}
    with pytest.raises(ClientError) as excinfo:
        ecs.register_task_definition(**request)
    got_code, message = error_of(excinfo)
    assert got_code == code
    assert fragment in message
    assert ecs.list_task_definition_families()["families"] == []
    assert ecs.list_task_definitions()["taskDefinitionArns"] == []
    # The failed registration used up no revision.
    assert register(ecs, "web")["taskDefinition"]["revision"] == 1


def test_a_shape_violation_is_refused_before_the_rules_run(ecs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.register_task_definition(family="web", containerDefinitions=[container()], networkMode="overlay")
    assert error_of(excinfo)[0] == "InvalidParameterException"


# --- DescribeTaskDefinition -----------------------------------------------------------------


def test_describe_by_family_revision_and_arn(ecs: Any, account: Any) -> None:
    for image in ("one", "two", "three"):
        register(ecs, "web", container(image=image))
    ecs.deregister_task_definition(taskDefinition="web:3")

    def image_of(identifier: str) -> str:
        definition = ecs.describe_task_definition(taskDefinition=identifier)["taskDefinition"]
        return str(definition["containerDefinitions"][0]["image"])

    assert image_of("web") == "two"  # the latest ACTIVE revision
    assert image_of("web:1") == "one"
    assert image_of("web:3") == "three"  # INACTIVE, named by its revision
    assert image_of(arn_of(account, "web", 1)) == "one"


def test_describe_returns_tags_only_when_asked(ecs: Any) -> None:
    register(ecs, "web", tags=[{"key": "k", "value": "v"}])
    assert "tags" not in ecs.describe_task_definition(taskDefinition="web")
    described = ecs.describe_task_definition(taskDefinition="web", include=["TAGS"])
    assert described["tags"] == [{"key": "k", "value": "v"}]


@pytest.mark.parametrize("identifier", ["nope", "web:9", "bad.name", "web:x9"])
def test_describe_of_nothing_is_a_client_exception(ecs: Any, identifier: str) -> None:
    register(ecs, "web")
    with pytest.raises(ClientError) as excinfo:
        ecs.describe_task_definition(taskDefinition=identifier)
    code, message = error_of(excinfo)
    assert code == "ClientException"
    assert message in ("Unable to describe task definition.", "Invalid revision number. Number: x9")


def test_describe_of_a_family_without_active_revisions_finds_nothing(ecs: Any) -> None:
    register(ecs, "web")
    ecs.deregister_task_definition(taskDefinition="web:1")
    with pytest.raises(ClientError) as excinfo:
        ecs.describe_task_definition(taskDefinition="web")
    assert error_of(excinfo) == ("ClientException", "Unable to describe task definition.")


def test_an_arn_of_another_kind_is_an_invalid_parameter(ecs: Any, account: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.describe_task_definition(taskDefinition=f"arn:aws:ecs:us-east-1:{account.account_id}:cluster/web")
    assert error_of(excinfo)[0] == "InvalidParameterException"


# --- DeregisterTaskDefinition ---------------------------------------------------------------


def test_deregister_makes_a_revision_inactive(ecs: Any, account: Any) -> None:
    register(ecs, "web")
    register(ecs, "web")
    definition = ecs.deregister_task_definition(taskDefinition=arn_of(account, "web", 1))["taskDefinition"]
    assert definition["status"] == "INACTIVE"
    assert isinstance(definition["deregisteredAt"], datetime.datetime)
    assert ecs.list_task_definitions()["taskDefinitionArns"] == [arn_of(account, "web", 2)]
    assert ecs.list_task_definitions(status="INACTIVE")["taskDefinitionArns"] == [arn_of(account, "web", 1)]
    again = ecs.deregister_task_definition(taskDefinition="web:1")["taskDefinition"]
    assert (again["status"], again["deregisteredAt"]) == ("INACTIVE", definition["deregisteredAt"])


@pytest.mark.parametrize("identifier", ["web", "web:7", "other:1"])
def test_deregister_needs_an_existing_revision(ecs: Any, identifier: str) -> None:
    register(ecs, "web")
    with pytest.raises(ClientError) as excinfo:
        ecs.deregister_task_definition(taskDefinition=identifier)
    assert error_of(excinfo)[0] == "ClientException"
    assert ecs.describe_task_definition(taskDefinition="web:1")["taskDefinition"]["status"] == "ACTIVE"


# --- DeleteTaskDefinitions ------------------------------------------------------------------


def test_delete_takes_only_inactive_revisions(ecs: Any, account: Any) -> None:
    for _ in range(3):
        register(ecs, "web")
    ecs.deregister_task_definition(taskDefinition="web:1")
    ecs.deregister_task_definition(taskDefinition="web:2")
    result = ecs.delete_task_definitions(
        taskDefinitions=["web:1", arn_of(account, "web", 2), "web:3", "web:9", "web"]
    )
    deleted = result["taskDefinitions"]
    assert [d["revision"] for d in deleted] == [1, 2]
    assert all(d["status"] == "DELETE_IN_PROGRESS" for d in deleted)
    assert all(isinstance(d["deleteRequestedAt"], datetime.datetime) for d in deleted)
    failures = {failure["arn"]: failure["reason"] for failure in result["failures"]}
    assert failures[arn_of(account, "web", 3)] == (
        "The specified task definition is still in ACTIVE status. Please deregister the target and try again."
    )
    assert failures[arn_of(account, "web", 9)] == "The specified task definition does not exist."
    assert "web" in failures
    described = ecs.describe_task_definition(taskDefinition="web:1")["taskDefinition"]
    assert described["status"] == "DELETE_IN_PROGRESS"
    assert ecs.list_task_definitions(status="INACTIVE")["taskDefinitionArns"] == []
    assert ecs.list_task_definitions(status="DELETE_IN_PROGRESS")["taskDefinitionArns"] == [
        arn_of(account, "web", 1),
        arn_of(account, "web", 2),
    ]
    # A deleted revision stays deleted: no deregistering it back.
    with pytest.raises(ClientError):
        ecs.deregister_task_definition(taskDefinition="web:1")


def test_delete_takes_at_most_ten(ecs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.delete_task_definitions(taskDefinitions=[f"web:{i}" for i in range(1, 12)])
    assert error_of(excinfo)[0] == "InvalidParameterException"


# --- ListTaskDefinitions --------------------------------------------------------------------


def test_list_sorts_by_family_then_revision(ecs: Any, account: Any) -> None:
    for family in ("b", "a", "B", "a", "b-c", "a_b"):
        register(ecs, family)
    expected = [
        arn_of(account, family, revision)
        for family, revision in [("B", 1), ("a", 1), ("a", 2), ("a_b", 1), ("b", 1), ("b-c", 1)]
    ]
    assert ecs.list_task_definitions()["taskDefinitionArns"] == expected
    assert ecs.list_task_definitions(sort="DESC")["taskDefinitionArns"] == expected[::-1]


def test_list_family_prefix_is_the_whole_family(ecs: Any, account: Any) -> None:
    for family in ("web", "web", "webapp"):
        register(ecs, family)
    listed = ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"]
    assert listed == [arn_of(account, "web", 1), arn_of(account, "web", 2)]
    assert ecs.list_task_definitions(familyPrefix="we")["taskDefinitionArns"] == []


@pytest.mark.parametrize("sort", ["ASC", "DESC"])
@pytest.mark.parametrize("family_prefix", [None, "a"])
def test_list_pages_through_everything_once(ecs: Any, sort: str, family_prefix: str | None) -> None:
    for family in ("a", "b", "c"):
        for _ in range(4):
            register(ecs, family)
    extra = {"familyPrefix": family_prefix} if family_prefix else {}
    whole = ecs.list_task_definitions(sort=sort, **extra)["taskDefinitionArns"]
    pages = all_pages(ecs.list_task_definitions, "taskDefinitionArns", maxResults=5, sort=sort, **extra)
    assert all(len(page) <= 5 for page in pages)
    assert sum(pages, []) == whole
    assert len(whole) == (4 if family_prefix else 12)


@pytest.mark.parametrize("max_results", [0, 101])
def test_list_max_results_is_1_to_100(ecs: Any, max_results: int) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecs.list_task_definitions(maxResults=max_results)
    assert error_of(excinfo)[0] == "InvalidParameterException"


def test_a_token_only_continues_its_own_query(server: DockyardServer, ecs: Any) -> None:
    for _ in range(3):
        register(ecs, "web")
    token = ecs.list_task_definitions(maxResults=1)["nextToken"]
    calls: list[Callable[[], Any]] = [
        lambda: ecs.list_task_definitions(nextToken=token, sort="DESC"),
        lambda: ecs.list_task_definitions(nextToken=token, status="INACTIVE"),
        lambda: ecs.list_task_definitions(nextToken=token, familyPrefix="web"),
        lambda: ecs.list_task_definitions(nextToken="Zm9yZ2Vk"),
        lambda: server.client(server.new_account()).list_task_definitions(nextToken=token),
    ]
    for call in calls:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)[0] == "InvalidParameterException"


# --- ListTaskDefinitionFamilies -------------------------------------------------------------


def test_list_families_by_prefix_and_status(ecs: Any) -> None:
    for family in ("hpcc", "hpcc-t2-medium", "hello_world", "hpc", "sleep360"):
        register(ecs, family)
    ecs.deregister_task_definition(taskDefinition="hpc:1")
    register(ecs, "sleep360")
    ecs.deregister_task_definition(taskDefinition="sleep360:1")

    def families(**kwargs: Any) -> list[str]:
        return list(ecs.list_task_definition_families(**kwargs)["families"])

    assert families() == ["hello_world", "hpc", "hpcc", "hpcc-t2-medium", "sleep360"]
    assert families(familyPrefix="hpcc") == ["hpcc", "hpcc-t2-medium"]
    assert families(familyPrefix="hp", status="ACTIVE") == ["hpcc", "hpcc-t2-medium"]
    assert families(status="INACTIVE") == ["hpc"]
    assert families(status="ALL", familyPrefix="h") == [
        "hello_world",
        "hpc",
        "hpcc",
        "hpcc-t2-medium",
    ]
    assert families(familyPrefix="x") == families(familyPrefix="h.") == []


def test_list_families_pages(ecs: Any) -> None:
    names = [f"family-{i:02d}" for i in range(7)]
    for name in names:
        register(ecs, name)
    pages = all_pages(ecs.list_task_definition_families, "families", maxResults=3, familyPrefix="fam")
    assert [len(page) for page in pages] == [3, 3, 1]
    assert sum(pages, []) == names


def test_deleted_revisions_keep_their_family_listed(ecs: Any) -> None:
    register(ecs, "gone")
    ecs.deregister_task_definition(taskDefinition="gone:1")
    ecs.delete_task_definitions(taskDefinitions=["gone:1"])
    assert ecs.list_task_definition_families()["families"] == ["gone"]
    assert ecs.list_task_definition_families(status="ACTIVE")["families"] == []
    assert ecs.list_task_definition_families(status="INACTIVE")["families"] == ["gone"]


# --- Isolation ------------------------------------------------------------------------------


def test_another_account_sees_and_touches_nothing(server: DockyardServer, ecs: Any, account: Any) -> None:
    register(ecs, "private", tags=[{"key": "k", "value": "v"}])
    arn = arn_of(account, "private", 1)
    other = server.client(server.new_account())
    assert other.list_task_definitions()["taskDefinitionArns"] == []
    assert other.list_task_definition_families()["families"] == []
    calls: list[Callable[[], Any]] = [
        lambda: other.describe_task_definition(taskDefinition=arn),
        lambda: other.describe_task_definition(taskDefinition="private"),
        lambda: other.deregister_task_definition(taskDefinition=arn),
    ]
    for call in calls:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)[0] == "ClientException"
    failure = other.delete_task_definitions(taskDefinitions=[arn])["failures"][0]
    assert failure == {"arn": arn, "reason": "The specified task definition does not exist."}
    assert register(other, "private")["taskDefinition"]["revision"] == 1
    assert ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["status"] == "ACTIVE"


def test_another_region_of_the_same_account_is_apart(server: DockyardServer, ecs: Any, account: Any) -> None:
    register(ecs, "web")
    west = server.client(account, region="eu-west-1")
    assert west.list_task_definitions()["taskDefinitionArns"] == []
    with pytest.raises(ClientError) as excinfo:
        west.describe_task_definition(taskDefinition=arn_of(account, "web", 1))
    assert error_of(excinfo)[0] == "ClientException"
    definition = register(west, "web")["taskDefinition"]
    assert definition["taskDefinitionArn"] == arn_of(account, "web", 1, region="eu-west-1")


# --- resolve / render, for the actions that run tasks (straight on a store, no server) --------


@pytest.fixture
def store_ctx(tmp_path: Path) -> Iterator[RequestContext]:
    engine = make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    try:
        with transaction(engine) as connection:
            identity = Identity("AKIATEST", "123456789012", "tester")
            ctx = RequestContext(
                request_id="test",
                service="ecs",
                server=cast(Any, None),
                identity=identity,
                now=1_700_000_000.0,
            )
            ctx.connection = connection
            yield ctx
    finally:
        engine.dispose()


def test_resolve_names_active_and_inactive_revisions_only(store_ctx: RequestContext) -> None:
    for _ in range(3):
        task_definitions.register_task_definition(
            store_ctx, family="web", container_definitions=[container()]
        )
    for identifier in ("web:2", "web:3"):
        task_definitions.deregister_task_definition(store_ctx, task_definition=identifier)
    task_definitions.delete_task_definitions(store_ctx, task_definitions=["web:2"])
    assert task_definitions.resolve(store_ctx, "web").revision == 1  # latest ACTIVE
    assert task_definitions.resolve(store_ctx, "web:3").status == "INACTIVE"
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
    assert task_definitions.resolve(store_ctx, arn).revision == 1
    for gone in (
        "web:2",
        "web:4",
        "other",
        "arn:aws:ecs:us-east-1:999999999999:task-definition/web:1",
    ):
        with pytest.raises(ClientException):
            task_definitions.resolve(store_ctx, gone)


def test_render_gives_the_task_definition_shape(store_ctx: RequestContext) -> None:
    task_definitions.register_task_definition(
        store_ctx, family="web", container_definitions=[container()], network_mode="host"
    )
    shape = service_model("ecs").shape_for("TaskDefinition")
    rendered = task_definitions.render(task_definitions.resolve(store_ctx, "web:1"))
    present = {key for key, value in rendered.items() if value is not None}
    assert present <= set(shape.members)
    assert rendered["taskDefinitionArn"] == "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
    assert (rendered["networkMode"], rendered["registeredAt"]) == ("host", 1_700_000_000.0)
