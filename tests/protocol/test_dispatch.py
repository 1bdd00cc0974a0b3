"""Every ECS action Dockyard implements takes every member its botocore input shape has."""

from __future__ import annotations

import inspect

import pytest

from dockyard import ecs
from dockyard.protocol.dispatch import build_actions, snake_case
from dockyard.protocol.models import service_model

ACTIONS = build_actions(service_model("ecs"), ecs.provider())


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_the_domain_method_accepts_every_member_of_the_input_shape(name: str) -> None:
    action = ACTIONS[name]
    accepted = set(inspect.signature(action.function).parameters)
    assert set(action.keywords.values()) <= accepted


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("registerTaskDefinition", "register_task_definition"),
        ("PIDMode", "pid_mode"),
        ("enableECSManagedTags", "enable_ecs_managed_tags"),
        ("maxResults", "max_results"),
    ],
)
def test_snake_case(name: str, expected: str) -> None:
    assert snake_case(name) == expected


def test_the_foundation_actions_are_all_implemented() -> None:
    wanted = {
        "CreateCluster",
        "DeleteCluster",
        "DescribeClusters",
        "ListClusters",
        "UpdateCluster",
        "UpdateClusterSettings",
        "RegisterTaskDefinition",
        "DeregisterTaskDefinition",
        "DeleteTaskDefinitions",
        "DescribeTaskDefinition",
        "ListTaskDefinitions",
        "ListTaskDefinitionFamilies",
        "PutAttributes",
        "DeleteAttributes",
        "ListAttributes",
        "PutAccountSetting",
        "PutAccountSettingDefault",
        "DeleteAccountSetting",
        "ListAccountSettings",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
        "RegisterContainerInstance",
        "DeregisterContainerInstance",
        "DescribeContainerInstances",
        "ListContainerInstances",
        "UpdateContainerInstancesState",
        "UpdateContainerAgent",
        "DiscoverPollEndpoint",
        "RunTask",
        "StartTask",
        "StopTask",
        "DescribeTasks",
        "ListTasks",
        "SubmitTaskStateChange",
        "SubmitContainerStateChange",
    }
    assert wanted <= set(ACTIONS)
