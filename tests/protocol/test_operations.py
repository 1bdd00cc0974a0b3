"""Every operation of the pinned ECS model, and the module of Dockyard that implements it.

The table is the map from ECS's API to the code: an action is the function of the same name
(snake_case) in the module named here (``dockyard/ecs/<module>.py``, ``services.actions`` for
``dockyard/ecs/services/actions.py``); None means Dockyard
answers it with ``UnsupportedFeatureException``. It is checked against what the dispatcher
binds and against the pinned botocore model, so a new botocore release (constraints.txt) or
a new action cannot change the API without this file changing too.
"""

from __future__ import annotations

from typing import Any

import botocore
import pytest

from dockyard import ecs
from dockyard.protocol.dispatch import build_actions
from dockyard.protocol.models import service_model
from tests.harness import raw_call

PINNED_BOTOCORE = "1.44.8"

OPERATIONS: dict[str, str | None] = {
    "AssociateGatewayWithCluster": None,
    "ContinueServiceDeployment": None,
    "CreateCapacityProvider": None,
    "CreateCluster": "clusters",
    "CreateDaemon": None,
    "CreateExpressGatewayService": None,
    "CreateGateway": None,
    "CreateService": "services.actions",
    "CreateTaskSet": None,
    "DeleteAccountSetting": "account_settings",
    "DeleteAttributes": "attributes",
    "DeleteCapacityProvider": None,
    "DeleteCluster": "clusters",
    "DeleteDaemon": None,
    "DeleteDaemonTaskDefinition": None,
    "DeleteExpressGatewayService": None,
    "DeleteGateway": None,
    "DeleteService": "services.actions",
    "DeleteTaskDefinitions": "task_definitions",
    "DeleteTaskSet": None,
    "DeregisterContainerInstance": "container_instances",
    "DeregisterTaskDefinition": "task_definitions",
    "DescribeCapacityProviders": None,
    "DescribeClusters": "clusters",
    "DescribeContainerInstances": "container_instances",
    "DescribeDaemon": None,
    "DescribeDaemonDeployments": None,
    "DescribeDaemonRevisions": None,
    "DescribeDaemonTaskDefinition": None,
    "DescribeExpressGatewayService": None,
    "DescribeGateway": None,
    "DescribeGatewayResources": None,
    "DescribeGatewayRoute": None,
    "DescribeServiceDeployments": "services.queries",
    "DescribeServiceRevisions": "services.queries",
    "DescribeServices": "services.queries",
    "DescribeTaskDefinition": "task_definitions",
    "DescribeTaskSets": None,
    "DescribeTasks": "tasks",
    "DisassociateGatewayFromCluster": None,
    "DiscoverPollEndpoint": "container_instances",
    "ExecuteCommand": None,
    "GetTaskProtection": None,
    "ListAccountSettings": "account_settings",
    "ListAttributes": "attributes",
    "ListClusters": "clusters",
    "ListContainerInstances": "container_instances",
    "ListDaemonDeployments": None,
    "ListDaemonTaskDefinitions": None,
    "ListDaemons": None,
    "ListGatewayClusterAssociations": None,
    "ListGatewayRoutes": None,
    "ListGateways": None,
    "ListServiceDeployments": "services.queries",
    "ListServices": "services.queries",
    "ListServicesByNamespace": None,
    "ListTagsForResource": "tags",
    "ListTaskDefinitionFamilies": "task_definitions",
    "ListTaskDefinitions": "task_definitions",
    "ListTasks": "tasks",
    "PutAccountSetting": "account_settings",
    "PutAccountSettingDefault": "account_settings",
    "PutAttributes": "attributes",
    "PutClusterCapacityProviders": None,
    "RegisterContainerInstance": "container_instances",
    "RegisterDaemonTaskDefinition": None,
    "RegisterTaskDefinition": "task_definitions",
    "RunTask": "tasks",
    "StartTask": "tasks",
    "StopServiceDeployment": None,
    "StopTask": "tasks",
    "SubmitAttachmentStateChanges": "task_reports",
    "SubmitContainerStateChange": "task_reports",
    "SubmitTaskStateChange": "task_reports",
    "TagResource": "tags",
    "UntagResource": "tags",
    "UpdateCapacityProvider": None,
    "UpdateCluster": "clusters",
    "UpdateClusterSettings": "clusters",
    "UpdateContainerAgent": "container_instances",
    "UpdateContainerInstancesState": "container_instances",
    "UpdateDaemon": None,
    "UpdateExpressGatewayService": None,
    "UpdateGateway": None,
    "UpdateService": "services.actions",
    "UpdateServicePrimaryTaskSet": None,
    "UpdateTaskProtection": None,
    "UpdateTaskSet": None,
}


def test_the_model_is_the_pinned_one() -> None:
    assert botocore.__version__ == PINNED_BOTOCORE, "botocore moved: update constraints.txt and this table"
    assert sorted(service_model("ecs").operation_names) == sorted(OPERATIONS)


def test_each_operation_is_bound_to_the_module_the_table_names() -> None:
    bound = build_actions(service_model("ecs"), ecs.provider())
    found = {
        name: bound[name].function.__module__.removeprefix("dockyard.ecs.") if name in bound else None
        for name in OPERATIONS
    }
    assert found == OPERATIONS


def _without_required_input(name: str) -> bool:
    shape = service_model("ecs").operation_model(name).input_shape
    return shape is None or not shape.required_members


@pytest.mark.parametrize(
    "name",
    sorted(name for name, module in OPERATIONS.items() if module is None and _without_required_input(name)),
)
def test_an_unimplemented_operation_says_so(server: Any, account: Any, name: str) -> None:
    reply = raw_call(server.endpoint, name, b"{}", account)
    assert (reply.status, reply.error_code) == (400, "UnsupportedFeatureException")
    assert name in reply.body["message"]
