"""RegisterTaskDefinition's rules and defaults, and what a task definition requires (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.ecs.task_definition_rules import normalize
from dockyard.ecs.task_requirements import compatibilities, requires_attributes
from dockyard.errors import ApiError, ClientException, InvalidParameterException


def container(name: str = "app", **members: Any) -> dict[str, Any]:
    return {"name": name, "image": "nginx", "memory": 128, **members}


def request(*containers: dict[str, Any], **members: Any) -> dict[str, Any]:
    return {"family": "web", "containerDefinitions": list(containers) or [container()], **members}


def fargate(*containers: dict[str, Any], **members: Any) -> dict[str, Any]:
    return request(
        *containers,
        **{
            "networkMode": "awsvpc",
            "cpu": "256",
            "memory": "512",
            "requiresCompatibilities": ["FARGATE"],
            **members,
        },
    )


def test_defaults_ecs_adds_to_a_minimal_container() -> None:
    document = normalize(request({"name": "app", "image": "nginx", "memory": 128}))
    assert document["containerDefinitions"] == [
        {
            "name": "app",
            "image": "nginx",
            "memory": 128,
            "cpu": 0,
            "essential": True,
            "portMappings": [],
            "environment": [],
            "mountPoints": [],
            "volumesFrom": [],
            "systemControls": [],
        }
    ]
    assert document["volumes"] == []
    assert document["placementConstraints"] == []
    assert document["compatibilities"] == ["EXTERNAL", "EC2"]
    assert document["requiresAttributes"] == []
    for absent in ("networkMode", "cpu", "memory", "requiresCompatibilities", "tags"):
        assert absent not in document


def test_given_members_are_kept_as_given() -> None:
    rich = container(
        "app",
        essential=False,
        cpu=10,
        command=["sleep", "1"],
        entryPoint=["/bin/sh"],
        environment=[{"name": "A", "value": "1"}],
        dockerLabels={"a": "b"},
        ulimits=[{"name": "nofile", "softLimit": 1, "hardLimit": 2}],
        stopTimeout=30,
        linuxParameters={"initProcessEnabled": True},
        resourceRequirements=[{"type": "GPU", "value": "1"}],
    )
    document = normalize(request(rich, container("main")))
    kept = document["containerDefinitions"][0]
    assert {key: kept[key] for key in rich} == rich


def test_nulls_count_as_not_given() -> None:
    document = normalize(request(container(cpu=None, essential=None), networkMode=None))
    assert document["containerDefinitions"][0]["cpu"] == 0
    assert document["containerDefinitions"][0]["essential"] is True
    assert "networkMode" not in document


def test_task_cpu_and_memory_are_returned_in_units() -> None:
    document = normalize(request(container(memory=None), cpu="1 vCPU", memory="2 GB"))
    assert (document["cpu"], document["memory"]) == ("1024", "2048")


@pytest.mark.parametrize(
    ("mode", "mapping", "returned"),
    [
        (None, {"containerPort": 80}, {"containerPort": 80, "protocol": "tcp"}),
        (
            "bridge",
            {"containerPort": 80, "hostPort": 0},
            {"containerPort": 80, "hostPort": 0, "protocol": "tcp"},
        ),
        (
            "bridge",
            {"containerPort": 80, "hostPort": 8080, "protocol": "udp"},
            {"containerPort": 80, "hostPort": 8080, "protocol": "udp"},
        ),
        ("host", {"containerPort": 80}, {"containerPort": 80, "hostPort": 80, "protocol": "tcp"}),
        ("awsvpc", {"containerPort": 80}, {"containerPort": 80, "hostPort": 80, "protocol": "tcp"}),
        (
            "awsvpc",
            {"containerPort": 80, "hostPort": 80},
            {"containerPort": 80, "hostPort": 80, "protocol": "tcp"},
        ),
        (
            "awsvpc",
            {"containerPortRange": "8000-8010"},
            {"containerPortRange": "8000-8010", "protocol": "tcp"},
        ),
    ],
    ids=[
        "bridge by default keeps no host port",
        "bridge keeps a dynamic host port",
        "bridge keeps given ports",
        "host mode maps the container port",
        "awsvpc maps the container port",
        "awsvpc keeps a matching host port",
        "a port range has no host port",
    ],
)
def test_port_mapping_defaults(mode: str | None, mapping: dict[str, Any], returned: dict[str, Any]) -> None:
    members = {"networkMode": mode} if mode else {}
    document = normalize(request(container(portMappings=[mapping]), **members))
    assert document["containerDefinitions"][0]["portMappings"] == [returned]


def test_a_volume_without_configuration_is_a_host_volume() -> None:
    volumes = [
        {"name": "scratch"},
        {"name": "data", "host": {"sourcePath": "/data"}},
        {"name": "shared", "dockerVolumeConfiguration": {"scope": "shared"}},
    ]
    document = normalize(
        request(
            container(mountPoints=[{"sourceVolume": "data", "containerPath": "/d"}]),
            volumes=volumes,
        )
    )
    assert document["volumes"] == [{"name": "scratch", "host": {}}, volumes[1], volumes[2]]


def containers_over_limit() -> dict[str, Any]:
    return request(*[container(f"c{i}") for i in range(11)])


def refused(given: dict[str, Any], fragment: str, error: type[ApiError] = ClientException) -> Any:
    return pytest.param(given, error, fragment)


def ports(*mappings: dict[str, Any]) -> dict[str, Any]:
    return container(portMappings=list(mappings))


def depends(name: str, on: str, condition: str = "START") -> dict[str, Any]:
    return container(name, dependsOn=[{"containerName": on, "condition": condition}])


MOUNT_DATA = container(mountPoints=[{"sourceVolume": "data", "containerPath": "/d"}])
SAME_PORTS = "the host ports and container ports in port mappings must match."
INVALID = {
    "family with a dot": refused(request(family="a.b"), "Invalid family name"),
    "family too long": refused(request(family="f" * 256), "Invalid family name"),
    "no containers": refused(request() | {"containerDefinitions": []}, "Container list cannot be empty."),
    "eleven containers": refused(containers_over_limit(), "at most 10"),
    "container without a name": refused(
        request({"image": "nginx", "memory": 128}), "Container.name should not be null or empty."
    ),
    "container without an image": refused(
        request({"name": "a", "memory": 128}), "Container.image should not be null or empty."
    ),
    "container name with a space": refused(request(container("my app")), "Invalid container name"),
    "container name too long": refused(request(container("c" * 256)), "Invalid container name"),
    "duplicate container names": refused(request(container("a"), container("a")), "unique"),
    "no essential container": refused(
        request(container("a", essential=False)),
        "Task definition doesn't have any essential container.",
    ),
    "no memory anywhere": refused(
        request(container(memory=None)),
        "At least one of 'memory' or 'memoryReservation' must be specified.",
    ),
    "memory below 6 MiB": refused(request(container(memory=4)), "The minimum is 6 MiB."),
    "reservation below 6 MiB": refused(
        request(container(memoryReservation=5)), "Invalid 'memoryReservation' setting"
    ),
    "reservation above memory": refused(
        request(container(memory=64, memoryReservation=128)),
        "'memory' must be greater than or equal to 'memoryReservation'",
    ),
    "container memory above task memory": refused(
        request(container(memory=1024), memory="512"), "cannot be greater than the task's 'memory'"
    ),
    "reservations above task memory": refused(
        request(
            container("a", memory=None, memoryReservation=300),
            container("b", memory=None, memoryReservation=300),
            memory="512",
        ),
        "The sum of all container 'memoryReservation' values",
    ),
    "container cpu above task cpu": refused(
        request(container("a", cpu=200), container("b", cpu=200), cpu="256"),
        "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'.",
    ),
    "negative container cpu": refused(request(container(cpu=-1)), "Invalid 'cpu' setting for container"),
    "task cpu unreadable": refused(
        request(cpu="lots"), "Invalid 'cpu' setting for task.", InvalidParameterException
    ),
    "task cpu empty": refused(request(cpu=""), "Invalid 'cpu' setting for task.", InvalidParameterException),
    "task memory unreadable": refused(
        request(memory="1 TB"), "Invalid 'memory' setting for task.", InvalidParameterException
    ),
    "task cpu below 128": refused(request(cpu="64"), "between 128 and 196608"),
    "host port differs in awsvpc": refused(
        request(ports({"containerPort": 80, "hostPort": 8080}), networkMode="awsvpc"),
        f"When networkMode=awsvpc, {SAME_PORTS}",
    ),
    "host port differs in host mode": refused(
        request(ports({"containerPort": 80, "hostPort": 8080}), networkMode="host"),
        f"When networkMode=host, {SAME_PORTS}",
    ),
    "port mappings with no network": refused(
        request(ports({"containerPort": 80}), networkMode="none"), "networkMode=none"
    ),
    "container port missing": refused(
        request(ports({"hostPort": 80})), "Invalid 'containerPort' setting for container 'app'."
    ),
    "container port out of range": refused(
        request(ports({"containerPort": 70000})), "Invalid 'containerPort'"
    ),
    "host port out of range": refused(
        request(ports({"containerPort": 80, "hostPort": -1})), "Invalid 'hostPort'"
    ),
    "links in awsvpc": refused(
        request(container("a", links=["b"]), container("b"), networkMode="awsvpc"),
        "Links are not supported when networkMode=awsvpc.",
    ),
    "links in host mode": refused(
        request(container("a", links=["b"]), container("b"), networkMode="host"),
        "Links are not supported when networkMode=host.",
    ),
    "link to an unknown container": refused(
        request(container("a", links=["db:database"])),
        "Invalid 'links' setting for container 'a'. Unknown container 'db'.",
    ),
    "hostname in awsvpc": refused(
        request(container(hostname="web"), networkMode="awsvpc"),
        "'hostname' parameter is not supported",
    ),
    "mount of an undefined volume": refused(request(MOUNT_DATA), "Unknown volume 'data'."),
    "volumes from an unknown container": refused(
        request(container(volumesFrom=[{"sourceContainer": "x"}])), "Invalid 'volumesFrom' setting"
    ),
    "volumes from itself": refused(
        request(container("a", volumesFrom=[{"sourceContainer": "a"}])), "Unknown container 'a'."
    ),
    "duplicate volume names": refused(
        request(volumes=[{"name": "v"}, {"name": "v"}]), "Volume names must be unique"
    ),
    "volume without a name": refused(
        request(volumes=[{"host": {}}]), "Volume.name should not be null or empty."
    ),
    "volume name with a slash": refused(request(volumes=[{"name": "a/b"}]), "Invalid volume name"),
    "dependency on an unknown container": refused(
        request(depends("app", "db")),
        "Invalid 'dependsOn' setting for container 'app'. Unknown container 'db'.",
    ),
    "waiting for an essential container to complete": refused(
        request(depends("a", "b", "SUCCESS"), container("b")),
        "A dependency container with SUCCESS or COMPLETE condition cannot be an essential",
    ),
    "waiting for health without a health check": refused(
        request(depends("a", "b", "HEALTHY"), container("b")), "has no healthCheck"
    ),
    "dependency cycle": refused(request(depends("a", "b"), depends("b", "a")), "cycle: a -> b -> a"),
    "eleven placement constraints": refused(
        request(placementConstraints=[{"type": "memberOf", "expression": "attribute:x == y"}] * 11),
        "Too many placement constraints",
    ),
    "memberOf without an expression": refused(
        request(placementConstraints=[{"type": "memberOf"}]), "have an expression"
    ),
    "proxy for an unknown container": refused(
        request(proxyConfiguration={"type": "APPMESH", "containerName": "envoy"}),
        "Unknown container 'envoy'.",
    ),
    "ephemeral storage too small": refused(
        request(ephemeralStorage={"sizeInGiB": 20}), "between 21 and 200 GiB"
    ),
    "a document over 64 KiB": refused(request(container(command=["x" * 70000])), "64 KiB"),
}


@pytest.mark.parametrize(("given", "error", "fragment"), INVALID.values(), ids=INVALID.keys())
def test_invalid_task_definitions_are_refused(
    given: dict[str, Any], error: type[ApiError], fragment: str
) -> None:
    with pytest.raises(error) as excinfo:
        normalize(given)
    assert type(excinfo.value) is error
    assert fragment in excinfo.value.message


def test_links_are_fine_in_bridge_mode() -> None:
    document = normalize(request(container("a", links=["b:db"]), container("b"), networkMode="bridge"))
    assert document["containerDefinitions"][0]["links"] == ["b:db"]


def test_task_memory_stands_in_for_container_memory() -> None:
    document = normalize(fargate(container(memory=None)))
    assert "memory" not in document["containerDefinitions"][0]


def test_a_fargate_task_definition_is_also_ec2_compatible() -> None:
    document = normalize(fargate(cpu="0.5 vCPU", memory="3 GB"))
    assert document["compatibilities"] == ["EC2", "FARGATE"]
    assert document["requiresCompatibilities"] == ["FARGATE"]
    assert (document["cpu"], document["memory"]) == ("512", "3072")


def test_a_fargate_sized_awsvpc_task_definition_fits_fargate_without_asking() -> None:
    document = normalize(request(container(memory=None), networkMode="awsvpc", cpu="256", memory="512"))
    assert document["compatibilities"] == ["EC2", "FARGATE"]
    assert "requiresCompatibilities" not in document


def test_an_awsvpc_task_definition_without_a_fargate_size_is_ec2_only() -> None:
    assert normalize(request(networkMode="awsvpc"))["compatibilities"] == ["EC2"]


FARGATE_REFUSES: dict[str, tuple[dict[str, Any], str]] = {
    "bridge mode": (fargate(networkMode="bridge"), "Fargate only supports network mode ‘awsvpc’."),
    "no network mode": (fargate(networkMode=None), "Fargate only supports network mode"),
    "no task cpu": (fargate(cpu=None), "Fargate requires that 'cpu' be defined at the task level."),
    "no task memory": (
        fargate(memory=None),
        "Fargate requires that 'memory' be defined at the task level.",
    ),
    "an unknown size": (
        fargate(cpu="1024", memory="1024"),
        "No Fargate configuration exists for given values: 1024 CPU, 1024 memory.",
    ),
    "a size between steps": (
        fargate(cpu="8192", memory="18 GB"),
        "No Fargate configuration exists for given values: 8192 CPU, 18432 memory.",
    ),
    "placement constraints": (
        fargate(placementConstraints=[{"type": "memberOf", "expression": "x"}]),
        "placement constraints",
    ),
    "a privileged container": (fargate(container(privileged=True)), "privileged"),
    "a host path volume": (
        fargate(volumes=[{"name": "v", "host": {"sourcePath": "/x"}}]),
        "host source paths",
    ),
    "the json-file log driver": (
        fargate(container(logConfiguration={"logDriver": "json-file"})),
        "log driver 'json-file'",
    ),
}


@pytest.mark.parametrize("case", FARGATE_REFUSES.values(), ids=FARGATE_REFUSES.keys())
def test_fargate_refuses(case: tuple[dict[str, Any], str]) -> None:
    given, fragment = case
    with pytest.raises(ClientException) as excinfo:
        normalize(given)
    assert fragment in excinfo.value.message


def test_external_refuses_awsvpc_and_managed_instances_are_listed_when_required() -> None:
    with pytest.raises(ClientException, match="EXTERNAL"):
        compatibilities({"networkMode": "awsvpc", "requiresCompatibilities": ["EXTERNAL"]})
    assert compatibilities({"requiresCompatibilities": ["MANAGED_INSTANCES"]}) == [
        "EXTERNAL",
        "EC2",
        "MANAGED_INSTANCES",
    ]


ECR_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"
# (task members, container members) -> attribute names that must appear
REQUIRES: dict[str, tuple[dict[str, Any], dict[str, Any], set[str]]] = {
    "awsvpc needs an ENI": ({"networkMode": "awsvpc"}, {}, {"ecs.capability.task-eni"}),
    "a task role": (
        {"taskRoleArn": "arn:aws:iam::1:role/r"},
        {},
        {"com.amazonaws.ecs.capability.task-iam-role"},
    ),
    "a health check": (
        {},
        {"healthCheck": {"command": ["CMD", "true"]}},
        {
            "ecs.capability.container-health-check",
            "com.amazonaws.ecs.capability.docker-remote-api.1.24",
        },
    ),
    "a log driver": (
        {},
        {"logConfiguration": {"logDriver": "syslog"}},
        {
            "com.amazonaws.ecs.capability.logging-driver.syslog",
            "com.amazonaws.ecs.capability.docker-remote-api.1.18",
        },
    ),
    "awslogs with an execution role": (
        {"executionRoleArn": "arn:aws:iam::1:role/x"},
        {"logConfiguration": {"logDriver": "awslogs"}},
        {
            "ecs.capability.execution-role-awslogs",
            "com.amazonaws.ecs.capability.logging-driver.awslogs",
            "com.amazonaws.ecs.capability.docker-remote-api.1.19",
        },
    ),
    "a memory reservation": (
        {},
        {"memoryReservation": 64},
        {"com.amazonaws.ecs.capability.docker-remote-api.1.21"},
    ),
    "an ECR image": (
        {"executionRoleArn": "arn:aws:iam::1:role/x"},
        {"image": ECR_IMAGE},
        {"com.amazonaws.ecs.capability.ecr-auth", "ecs.capability.execution-role-ecr-pull"},
    ),
    "secrets from SSM and Secrets Manager": (
        {},
        {
            "secrets": [
                {"name": "A", "valueFrom": "param"},
                {"name": "B", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:s"},
            ]
        },
        {
            "ecs.capability.secrets.ssm.environment-variables",
            "ecs.capability.secrets.asm.environment-variables",
        },
    ),
    "private registry credentials": (
        {},
        {"repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:x"}},
        {"com.amazonaws.ecs.capability.private-registry-authentication.secretsmanager"},
    ),
}


@pytest.mark.parametrize("case", REQUIRES.values(), ids=REQUIRES.keys())
def test_required_attributes(case: tuple[dict[str, Any], dict[str, Any], set[str]]) -> None:
    task, members, expected = case
    document = {**task, "containerDefinitions": [{"name": "app", "image": "nginx", **members}]}
    names = [attribute["name"] for attribute in requires_attributes(document)]
    assert names == sorted(names)
    assert expected <= set(names)


def test_dependencies_need_container_ordering() -> None:
    document = normalize(
        request(
            container("a", dependsOn=[{"containerName": "b", "condition": "COMPLETE"}]),
            container("b", essential=False),
        )
    )
    assert {"name": "ecs.capability.container-ordering"} in document["requiresAttributes"]


def test_a_plain_container_requires_nothing() -> None:
    assert requires_attributes({"containerDefinitions": [{"name": "a", "image": "nginx"}]}) == []
