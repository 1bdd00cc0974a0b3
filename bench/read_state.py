"""The state the read-only benchmarks poll, built the same way on every server, and the
read-only actions with the bodies a poller sends.

A small account as a user polls it: 5 clusters (the first one tagged), 20 revisions of one
family plus one other family, an account setting, and in the first cluster 3 container
instances (one with a custom attribute), 5 tasks from RunTask and 2 services. Everything is
made through the API with one ``call(operation, body) -> response`` function, so a boto3
client (Dockyard or moto over HTTP) and the in-process application (``bench.request_path``)
get the same requests. Only how the instances come to life differs: on a Dockyard server
hollow agents register them (an instance takes tasks only with an agent connected), moto and
the in-process application get RegisterContainerInstance calls.

Bodies that name resources (task and instance ARNs, the cluster's ARN) are built from what
the server answered, so each server is asked about its own resources.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Call = Callable[[str, dict[str, Any]], dict[str, Any]]

CLUSTER = "bench-0"
CLUSTERS = 5
FAMILY = "bench-web"
REVISIONS = 20
INSTANCES = 3
TASKS = 5
SERVICES = ("web", "worker")
CONTAINER = {
    "name": "web",
    "image": "nginx:1.27",
    "cpu": 128,
    "memory": 256,
    "essential": True,
    "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
    "environment": [{"name": "MODE", "value": "bench"}],
}


@dataclass
class Fixture:
    """What the server answered while the state was made: the ARNs later bodies name."""

    cluster_arn: str = ""
    instance_arns: list[str] = field(default_factory=list)
    task_arns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Read:
    """A read-only action and the body a poller sends, given what the state holds."""

    operation: str
    body: Callable[[Fixture], dict[str, Any]]


# Every read-only action Dockyard implements that a user (or a waiter) polls.
READS = [
    Read("DescribeClusters", lambda f: {"clusters": [CLUSTER]}),
    Read("ListClusters", lambda f: {}),
    Read("DescribeTaskDefinition", lambda f: {"taskDefinition": FAMILY}),
    Read("ListTaskDefinitions", lambda f: {"familyPrefix": FAMILY}),
    Read("ListTaskDefinitionFamilies", lambda f: {}),
    Read("DescribeTasks", lambda f: {"cluster": CLUSTER, "tasks": f.task_arns[:2]}),
    Read("ListTasks", lambda f: {"cluster": CLUSTER}),
    Read("DescribeContainerInstances", lambda f: {"cluster": CLUSTER, "containerInstances": f.instance_arns}),
    Read("ListContainerInstances", lambda f: {"cluster": CLUSTER}),
    Read("DescribeServices", lambda f: {"cluster": CLUSTER, "services": [SERVICES[0]]}),
    Read("ListServices", lambda f: {"cluster": CLUSTER}),
    Read(
        "ListAttributes",
        lambda f: {"cluster": CLUSTER, "targetType": "container-instance", "attributeName": "stack"},
    ),
    Read("ListTagsForResource", lambda f: {"resourceArn": f.cluster_arn}),
    Read("ListAccountSettings", lambda f: {"effectiveSettings": True}),
]
READ_OPERATIONS = [read.operation for read in READS]


def registration(index: int, ec2_instance_id: str) -> dict[str, Any]:
    """RegisterContainerInstance's body for instance ``index``, as an agent sends it."""
    document = {
        "instanceId": ec2_instance_id,
        "instanceType": "m5.large",
        "availabilityZone": "us-east-1a",
        "region": "us-east-1",
        "privateIp": f"10.0.0.{10 + index}",
    }
    return {
        "cluster": CLUSTER,
        "instanceIdentityDocument": json.dumps(document),
        "totalResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 7680},
            {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22", "2375", "2376", "51678"]},
            {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
        ],
        "versionInfo": {"agentVersion": "1.0.0", "agentHash": "bench", "dockerVersion": "bench"},
    }


def prepare_base(call: Call) -> Fixture:
    """The part of the state that needs no instance: clusters, revisions, a setting."""
    fixture = Fixture()
    for index in range(CLUSTERS):
        body: dict[str, Any] = {"clusterName": f"bench-{index}"}
        if index == 0:
            body["tags"] = [{"key": "team", "value": "web"}, {"key": "env", "value": "bench"}]
        cluster = call("CreateCluster", body)["cluster"]
        if index == 0:
            fixture.cluster_arn = cluster["clusterArn"]
    for _ in range(REVISIONS):
        call("RegisterTaskDefinition", {"family": FAMILY, "containerDefinitions": [CONTAINER]})
    # A second family, so the prefix filter has something to leave out.
    call("RegisterTaskDefinition", {"family": "other", "containerDefinitions": [CONTAINER]})
    call("PutAccountSetting", {"name": "containerInsights", "value": "enabled"})
    return fixture


def prepare_workload(call: Call, fixture: Fixture, *, running: bool = True, timeout: float = 60.0) -> Fixture:
    """With the instances registered and live: an attribute, tasks and services; then the
    ARNs the bodies name, once RunTask's tasks are RUNNING (when ``running``: where an agent
    reports them)."""
    listed = call("ListContainerInstances", {"cluster": CLUSTER})["containerInstanceArns"]
    fixture.instance_arns = sorted(listed)
    call(
        "PutAttributes",
        {
            "cluster": CLUSTER,
            "attributes": [
                {"name": "stack", "value": "blue", "targetId": fixture.instance_arns[0]},
            ],
        },
    )
    call("RunTask", {"cluster": CLUSTER, "taskDefinition": FAMILY, "count": TASKS})
    for name in SERVICES:
        call(
            "CreateService",
            {"cluster": CLUSTER, "serviceName": name, "taskDefinition": FAMILY, "desiredCount": 1},
        )
    # Polled as a user would (bounded).
    deadline = time.monotonic() + timeout
    while (
        running
        and call("DescribeClusters", {"clusters": [CLUSTER]})["clusters"][0]["runningTasksCount"] < TASKS
    ):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {TASKS} tasks were not RUNNING after {timeout:.0f} s")
        time.sleep(0.1)
    fixture.task_arns = sorted(call("ListTasks", {"cluster": CLUSTER})["taskArns"])
    return fixture


def prepare(call: Call, register: Callable[[], None], *, running: bool = True) -> Fixture:
    """The whole state; ``register`` brings the cluster's instances to life."""
    fixture = prepare_base(call)
    register()
    return prepare_workload(call, fixture, running=running)
