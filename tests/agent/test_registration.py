"""RegisterContainerInstance / DiscoverPollEndpoint: the request, and a real control plane."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from dockyard.agent.drivers import DriverInfo
from dockyard.agent.host import HostFacts
from dockyard.agent.registration import (
    RESERVED_TCP_PORTS,
    cluster_arn_of,
    control_plane_port,
    discover,
    parse_ports,
    register,
    registration_params,
)
from dockyard.agent.version import AGENT_VERSION
from tests.harness import DockyardServer

FACTS = HostFacts(
    cpu_units=2048,
    memory_mib=3840,
    os_type="linux",
    architecture="x86_64",
    hostname="box",
)
DOCKER = DriverInfo("docker", "DockerVersion: 24.0.7", ("ecs.capability.container-ordering",))


def params(**overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "cluster": "default",
        "facts": FACTS,
        "driver": DOCKER,
        "instance_id": "i-0123456789abcdef0",
        "region": "us-east-1",
        "availability_zone": "us-east-1a",
        "private_ip": "10.0.0.5",
        "endpoint": "http://127.0.0.1:5566",
    }
    return registration_params(**{**options, **overrides})


def resources(request: dict[str, Any]) -> dict[str, Any]:
    return {r["name"]: r.get("integerValue", r.get("stringSetValue")) for r in request["totalResources"]}


def test_the_request_matches_the_ecs_input_shape() -> None:
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterContainerInstance").input_shape
    report = ParamValidator().validate(params(instance_arn="arn:x"), shape)
    assert not report.has_errors(), report.generate_report()


def test_resources_count_cores_memory_and_reserved_ports() -> None:
    found = resources(params())
    assert (found["CPU"], found["MEMORY"]) == (2048, 3840)
    assert set(found["PORTS"]) == {"22", "2375", "2376", "51678", "51679", "5566"}
    assert found["PORTS_UDP"] == []


def test_configured_ports_are_reserved_too_but_never_our_own() -> None:
    found = resources(params(reserved_tcp=[80, 8080], reserved_udp=[53], own_ports=[8080]))
    assert set(found["PORTS"]) == {str(p) for p in (*RESERVED_TCP_PORTS, 5566, 80)}
    assert found["PORTS_UDP"] == ["53"]


@pytest.mark.parametrize(
    ("text", "ports"),
    [("", ()), ("[22, 80, 5000]", (22, 80, 5000)), ("80,443", (80, 443)), ("[]", ())],
    ids=["nothing", "ECS_RESERVED_PORTS' JSON array", "a comma list", "an empty array"],
)
def test_reserved_port_lists_are_read_as_the_ecs_agent_reads_them(text: str, ports: tuple[int, ...]) -> None:
    assert parse_ports(text) == ports


@pytest.mark.parametrize("text", ["[80, http]", "0", "70000"], ids=["a word", "zero", "too high"])
def test_a_bad_reserved_port_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a port"):
        parse_ports(text)


def test_a_remote_control_plane_port_is_not_reserved_here() -> None:
    assert "5566" not in resources(params(endpoint="http://10.1.2.3:5566"))["PORTS"]
    assert control_plane_port("http://localhost") == 80
    assert control_plane_port("https://plane.example") is None


def test_identity_version_and_attributes() -> None:
    request = params()
    document = json.loads(request["instanceIdentityDocument"])
    assert document["instanceId"] == "i-0123456789abcdef0"
    assert (document["region"], document["availabilityZone"]) == ("us-east-1", "us-east-1a")
    assert document["privateIp"] == "10.0.0.5"
    assert request["versionInfo"] == {
        "agentVersion": AGENT_VERSION,
        "agentHash": "dev",
        "dockerVersion": "DockerVersion: 24.0.7",
    }
    attributes = {a["name"]: a.get("value") for a in request["attributes"]}
    assert attributes["ecs.os-type"] == "linux"
    assert attributes["ecs.cpu-architecture"] == "x86_64"
    assert attributes["dockyard.driver"] == "docker"
    assert "ecs.capability.container-ordering" in attributes
    assert "containerInstanceArn" not in request


def test_fargate_capacity_is_an_attribute_with_awsvpc_support() -> None:
    plain = {a["name"]: a.get("value") for a in params()["attributes"]}
    assert "dockyard.capacity.fargate" not in plain and "ecs.capability.task-eni" not in plain
    offered = params(fargate_capacity=True, driver=DriverInfo("process", "process", ()))
    attributes = {a["name"]: a.get("value") for a in offered["attributes"]}
    assert attributes["dockyard.capacity.fargate"] == "true"
    assert "ecs.capability.task-eni" in attributes  # every Fargate task is awsvpc


def test_an_overridden_version_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_AGENT_VERSION", "0.0.1")
    assert params()["versionInfo"]["agentVersion"] == "0.0.1"


@pytest.mark.parametrize(
    ("instance_arn", "expected"),
    [
        ("arn:aws:ecs:us-east-1:123:container-instance/prod/abc", "arn:aws:ecs:us-east-1:123:cluster/prod"),
        ("arn:aws:ecs:us-east-1:123:container-instance/abc", "prod"),
    ],
    ids=["the long ARN names its cluster", "the short ARN falls back to the given name"],
)
def test_cluster_arn_of(instance_arn: str, expected: str) -> None:
    assert cluster_arn_of(instance_arn, "prod") == expected


def test_registering_again_keeps_the_instance(server: DockyardServer) -> None:
    ecs = server.client(server.new_account())
    ecs.create_cluster(clusterName="default")
    request = params(endpoint=server.endpoint, instance_id="i-0aaaaaaaaaaaaaaaa")
    first = register(ecs, request)
    assert register(ecs, {**request, "containerInstanceArn": first}) == first
    endpoint = discover(ecs, "default", first)
    assert endpoint.startswith("http") and endpoint.endswith("/")
    [described] = ecs.describe_container_instances(containerInstances=[first])["containerInstances"]
    registered = {r["name"]: r for r in described["registeredResources"]}
    assert registered["CPU"]["integerValue"] == 2048
    assert described["versionInfo"]["agentVersion"] == AGENT_VERSION


def test_a_stale_instance_arn_registers_afresh(server: DockyardServer) -> None:
    ecs = server.client(server.new_account())
    ecs.create_cluster(clusterName="default")
    request = params(endpoint=server.endpoint, instance_id="i-0bbbbbbbbbbbbbbbb")
    first = register(ecs, request)
    ecs.deregister_container_instance(containerInstance=first, force=True)
    second = register(ecs, {**request, "containerInstanceArn": first})
    assert second != first
    assert ecs.list_container_instances()["containerInstanceArns"] == [second]
