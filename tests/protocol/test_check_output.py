"""The response checker, on the real botocore ECS model (no server)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from dockyard.protocol.check_output import ENV, output_problems
from dockyard.protocol.models import operation

CLUSTER = {"clusterArn": "arn:aws:ecs:us-east-1:1:cluster/a", "clusterName": "a", "status": "ACTIVE"}


def problems(action: str, body: Any) -> list[str]:
    model = operation("ecs", action)
    assert model is not None
    return output_problems(model.output_shape, body)


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("CreateCluster", {"cluster": CLUSTER}),
        ("ListClusters", {"clusterArns": ["a", "b"], "nextToken": "t"}),
        ("DescribeClusters", {"clusters": [{**CLUSTER, "registeredContainerInstancesCount": 0}]}),
        ("DescribeTasks", {"tasks": [{"createdAt": 1700000000.25, "memory": "512"}], "failures": []}),
        ("DeleteAttributes", {"attributes": []}),
    ],
    ids=[
        "a structure",
        "a list of strings",
        "an integer member",
        "a timestamp as epoch seconds",
        "an empty list",
    ],
)
def test_responses_of_the_shape_pass(action: str, body: Any) -> None:
    assert problems(action, body) == []


@pytest.mark.parametrize(
    ("action", "body", "problem"),
    [
        (
            "CreateCluster",
            {"cluster": {**CLUSTER, "clusterARN": "x"}},
            "CreateClusterResponse.cluster.clusterARN: not a member of Cluster",
        ),
        ("ListClusters", {"clusterArns": "a"}, "ListClustersResponse.clusterArns: str where a list belongs"),
        (
            "DescribeClusters",
            {"clusters": [{**CLUSTER, "runningTasksCount": "3"}]},
            "DescribeClustersResponse.clusters[0].runningTasksCount: str where an integer belongs",
        ),
        (
            "DescribeClusters",
            {"clusters": [{**CLUSTER, "runningTasksCount": True}]},
            "DescribeClustersResponse.clusters[0].runningTasksCount: bool where an integer belongs",
        ),
        (
            "DescribeTasks",
            {"tasks": [{"createdAt": "2024-01-01T00:00:00Z"}]},
            "DescribeTasksResponse.tasks[0].createdAt: str where a timestamp belongs",
        ),
        (
            "DescribeContainerInstances",
            {"containerInstances": [{"attributes": [{"value": "x"}]}]},
            "DescribeContainerInstancesResponse.containerInstances[0].attributes[0].name: "
            "required member missing",
        ),
        (
            "DescribeTaskDefinition",
            {"taskDefinition": {"containerDefinitions": [{"dockerLabels": {"a": 1}}]}},
            "DescribeTaskDefinitionResponse.taskDefinition.containerDefinitions[0].dockerLabels['a']: "
            "int where a string belongs",
        ),
    ],
    ids=[
        "a misspelt member",
        "a string for a list",
        "a string for an integer",
        "a boolean for an integer",
        "an ISO timestamp",
        "a missing required member",
        "a wrong type in a map",
    ],
)
def test_what_breaks_the_shape_is_named(action: str, body: Any, problem: str) -> None:
    assert problem in problems(action, body)


def test_the_suite_runs_with_the_checker_on() -> None:
    assert os.environ.get(ENV) == "1"
