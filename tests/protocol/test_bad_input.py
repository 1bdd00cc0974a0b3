"""Bad input answers a 4xx in ECS's shape on both stores, never a 500 (issue 10, item 7)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.builders import identity_document
from tests.harness import raw_call


def _register(resources: list[dict[str, Any]], document: str | None = None) -> dict[str, Any]:
    return {
        "cluster": "default",
        "totalResources": resources,
        "instanceIdentityDocument": identity_document() if document is None else document,
    }


def _cpu(**value: Any) -> dict[str, Any]:
    return {"name": "CPU", "type": "INTEGER", **value}


def _memory(**value: Any) -> dict[str, Any]:
    return {"name": "MEMORY", "type": "INTEGER", **value}


NUL = "a\x00b"
ARN = "arn:aws:ecs:us-east-1:123456789012:task/default/" + "0" * 32

CASES = [
    pytest.param(
        "RegisterContainerInstance",
        _register([{"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["abc"]}]),
        id="a port that is not a number",
    ),
    pytest.param(
        "RegisterContainerInstance",
        _register([{"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["70000"]}]),
        id="a port out of range",
    ),
    pytest.param("RegisterContainerInstance", _register([_memory(doubleValue=1e300)]), id="MEMORY 1e300"),
    pytest.param("RegisterContainerInstance", _register([_cpu(integerValue=10**25)]), id="CPU 10**25"),
    pytest.param("RegisterContainerInstance", _register([_memory(longValue=2**31)]), id="MEMORY 2**31"),
    pytest.param("RegisterContainerInstance", _register([_cpu(longValue=2**63)]), id="CPU beyond a long"),
    pytest.param("RegisterContainerInstance", _register([], "[" * 100_000), id="a deeply nested document"),
    pytest.param("DescribeClusters", {"clusters": [NUL]}, id="NUL in a cluster name"),
    pytest.param("DescribeTasks", {"cluster": "default", "tasks": [NUL]}, id="NUL in a task id"),
    pytest.param("StopTask", {"cluster": "default", "task": NUL}, id="NUL in StopTask"),
    pytest.param(
        "DescribeContainerInstances",
        {"cluster": "default", "containerInstances": [NUL]},
        id="NUL in an instance id",
    ),
    pytest.param("ListTasks", {"cluster": "default", "family": NUL}, id="NUL in a ListTasks family"),
    pytest.param("ListTasks", {"cluster": "default", "startedBy": NUL}, id="NUL in ListTasks startedBy"),
    pytest.param(
        "ListTasks", {"cluster": "default", "containerInstance": NUL}, id="NUL in ListTasks instance"
    ),
    pytest.param(
        "ListAttributes",
        {"cluster": "default", "targetType": "container-instance", "attributeName": NUL},
        id="NUL in ListAttributes",
    ),
    pytest.param(
        "RegisterTaskDefinition",
        {
            "family": "nul",
            "containerDefinitions": [
                {"name": "a", "image": "busybox", "memory": 64, "environment": [{"name": "A", "value": NUL}]}
            ],
        },
        id="NUL in an environment value",
    ),
    pytest.param("StopTask", {"cluster": "default", "task": ARN, "reason": NUL}, id="NUL in a reason"),
    pytest.param("CreateCluster", {"clusterName": NUL}, id="NUL in a new cluster's name"),
]


@pytest.mark.parametrize(("target", "params"), CASES)
def test_bad_input_is_a_client_error(server: Any, account: Any, target: str, params: dict[str, Any]) -> None:
    raw_call(server.endpoint, "CreateCluster", b"{}", account)
    reply = raw_call(server.endpoint, target, json.dumps(params).encode(), account)
    assert 400 <= reply.status < 500, (reply.status, reply.body)
    assert reply.error_code in ("InvalidParameterException", "ClientException", "SerializationException")
    assert "Traceback" not in server.log()


def test_nul_is_refused_before_anything_is_written(server: Any, account: Any) -> None:
    body = json.dumps({"clusterName": "nul" + NUL}).encode()
    assert raw_call(server.endpoint, "CreateCluster", body, account).status == 400
    listed = raw_call(server.endpoint, "ListClusters", b"{}", account)
    assert listed.body["clusterArns"] == []


def test_an_escaped_backslash_before_u0000_is_not_a_nul(server: Any, account: Any) -> None:
    environment = [{"name": "A", "value": "\\u0000"}]
    definition = {"name": "a", "image": "busybox", "memory": 64, "environment": environment}
    body = json.dumps({"family": "backslash", "containerDefinitions": [definition]}).encode()
    reply = raw_call(server.endpoint, "RegisterTaskDefinition", body, account)
    assert reply.status == 200, reply.body
