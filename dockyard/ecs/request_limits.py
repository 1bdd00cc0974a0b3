"""How many items ECS takes in a request's list members, as the API reference and botocore's
documentation state them ("A list of up to 100 cluster names...").

botocore's model carries few of these as constraints, so they are listed here by operation
and member path; the request path refuses a longer list before any of its items is looked at,
so no single request can make the server work through an unbounded list.
"""

from __future__ import annotations

_AWSVPC = "networkConfiguration.awsvpcConfiguration"

LIST_LIMITS: dict[str, dict[str, int]] = {
    "DescribeClusters": {"clusters": 100},
    "DescribeContainerInstances": {"containerInstances": 100},
    "DescribeTasks": {"tasks": 100},
    "DescribeServices": {"services": 10},
    "DescribeCapacityProviders": {"capacityProviders": 100},
    "DescribeServiceDeployments": {"serviceDeploymentArns": 20},
    "DescribeServiceRevisions": {"serviceRevisionArns": 20},
    "GetTaskProtection": {"tasks": 100},
    "UpdateTaskProtection": {"tasks": 10},
    "UpdateContainerInstancesState": {"containerInstances": 10},
    "DeleteAttributes": {"attributes": 10},
    "PutAttributes": {"attributes": 10},
    "DeleteTaskDefinitions": {"taskDefinitions": 10},
    "RegisterTaskDefinition": {"placementConstraints": 10},
    "RunTask": {
        "placementConstraints": 10,
        "placementStrategy": 5,
        "capacityProviderStrategy": 20,
        f"{_AWSVPC}.subnets": 16,
        f"{_AWSVPC}.securityGroups": 5,
    },
    "StartTask": {"containerInstances": 10, f"{_AWSVPC}.subnets": 16, f"{_AWSVPC}.securityGroups": 5},
    "CreateService": {
        "placementConstraints": 10,
        "placementStrategy": 5,
        "capacityProviderStrategy": 20,
        f"{_AWSVPC}.subnets": 16,
        f"{_AWSVPC}.securityGroups": 5,
    },
    "UpdateService": {
        "placementConstraints": 10,
        f"{_AWSVPC}.subnets": 16,
        f"{_AWSVPC}.securityGroups": 5,
    },
    "CreateTaskSet": {f"{_AWSVPC}.subnets": 16, f"{_AWSVPC}.securityGroups": 5},
}
