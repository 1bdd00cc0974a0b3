"""Fixtures of the IoT tests: boto3 ``iot`` and ``iot-jobs-data`` clients of the test's account."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import Credentials, DockyardServer


@pytest.fixture
def iot(server: DockyardServer, account: Credentials) -> Any:
    return server.client(account, "iot")


@pytest.fixture
def jobs_data(server: DockyardServer, account: Credentials) -> Any:
    return server.client(account, "iot-jobs-data")


def register_instances(ecs: Any, cluster: str, count: int) -> list[str]:
    """``count`` container instances in ``cluster`` (made if missing), as a tool registers them;
    returns their ids, which are their things' names."""
    ecs.create_cluster(clusterName=cluster)
    ids = []
    for _ in range(count):
        arn = ecs.register_container_instance(
            cluster=cluster,
            totalResources=[
                {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048},
            ],
        )["containerInstance"]["containerInstanceArn"]
        ids.append(arn.rsplit("/", 1)[-1])
    return ids
