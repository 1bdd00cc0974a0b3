"""The shape validator, on the real botocore ECS model (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.errors import InvalidParameterException, SerializationException
from dockyard.protocol.models import operation
from dockyard.protocol.validate import ShapeValidator, enum_message


def validate(action: str, params: Any) -> None:
    model = operation("ecs", action)
    assert model is not None
    ShapeValidator().validate(model.input_shape, params)


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("CreateCluster", {}),
        ("CreateCluster", {"clusterName": "a", "tags": [{"key": "k", "value": "v"}]}),
        ("ListClusters", {"maxResults": 100}),
        (
            "RegisterTaskDefinition",
            {
                "family": "f",
                "containerDefinitions": [
                    {"name": "c", "image": "busybox", "memory": 64, "portMappings": [{"containerPort": 80}]}
                ],
            },
        ),
        ("CreateCluster", {"clusterName": "a", "somethingNew": {"x": 1}}),
    ],
    ids=["nothing", "a name and tags", "the largest page", "a task definition", "unknown members ignored"],
)
def test_valid_requests_pass(action: str, params: Any) -> None:
    validate(action, params)


@pytest.mark.parametrize(
    ("action", "params", "fragment"),
    [
        ("DeleteCluster", {}, "Value null at 'cluster'"),
        (
            "DescribeClusters",
            {"include": ["NOPE"]},
            "include should be one of [ATTACHMENTS,CONFIGURATIONS,SETTINGS,STATISTICS,TAGS]",
        ),
        ("CreateCluster", {"tags": [{"key": ""}]}, "length greater than or equal to 1"),
        ("CreateCluster", {"tags": [{"key": "k"}] * 51}, "length less than or equal to 50"),
        (
            "RegisterTaskDefinition",
            {"family": "f", "containerDefinitions": [{"name": "c", "portMappings": [{"protocol": "sctp"}]}]},
            "protocol should be one of [tcp,udp]",
        ),
    ],
    ids=["a missing member", "outside the enum", "too short", "too many", "deep inside a list"],
)
def test_constraint_violations_are_invalid_parameters(action: str, params: Any, fragment: str) -> None:
    with pytest.raises(InvalidParameterException) as excinfo:
        validate(action, params)
    assert fragment in excinfo.value.message


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("CreateCluster", {"clusterName": 1}),
        ("ListClusters", {"maxResults": 1.5}),
        ("DescribeClusters", {"clusters": "a"}),
        ("CreateCluster", {"tags": ["k"]}),
        ("RegisterTaskDefinition", {"family": "f", "containerDefinitions": [{"essential": "yes"}]}),
    ],
    ids=[
        "a number for a string",
        "a fraction for an integer",
        "a string for a list",
        "a string for a structure",
        "a string for a boolean",
    ],
)
def test_wrong_types_are_serialization_errors(action: str, params: Any) -> None:
    with pytest.raises(SerializationException):
        validate(action, params)


@pytest.mark.parametrize(
    ("path", "allowed", "message"),
    [
        ("launchType", ["EC2", "FARGATE", "EXTERNAL"], "launch type should be one of [EC2,FARGATE,EXTERNAL]"),
        ("include.1.member", ["TAGS"], "include should be one of [TAGS]"),
        (
            "containerDefinitions.1.member.logConfiguration.logDriver",
            ["json-file", "syslog"],
            "log driver should be one of [json-file,syslog]",
        ),
        ("networkMode", ["bridge"], "network mode should be one of [bridge]"),
        ("PIDMode", ["host"], "pid mode should be one of [host]"),
    ],
    ids=["a top-level member", "an item of a list", "deep in a structure", "two words", "an acronym"],
)
def test_enum_violations_say_what_ecs_says(path: str, allowed: list[str], message: str) -> None:
    assert enum_message(path, allowed) == message


def test_an_enum_violation_is_answered_alone_in_ecs_words() -> None:
    with pytest.raises(InvalidParameterException) as excinfo:
        validate("RunTask", {"launchType": "MOON"})  # taskDefinition is missing too
    assert excinfo.value.message.startswith("launch type should be one of [EC2,FARGATE,EXTERNAL")
