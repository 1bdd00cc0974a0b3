"""Fixtures of the IoT tests: boto3 ``iot`` and ``iot-jobs-data`` clients of the test's account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKENDS, database_url_for
from tests.harness import Credentials, DockyardServer, drop_postgres_database


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


@pytest.fixture(params=BACKENDS)
def quick_minute_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DockyardServer]:
    """A server of its own whose job engine counts a minute as two seconds (rollout windows,
    timeouts), for the tests that would otherwise wait whole minutes, or restart it."""
    instance = DockyardServer(
        data_dir=tmp_path / "server",
        database_url=database_url_for(request.param),
        environment={"DOCKYARD_JOBS_MINUTE_SECONDS": str(QUICK_MINUTE)},
    ).start()
    yield instance
    if instance.process is not None:
        instance.stop()
    if instance.database_url:
        drop_postgres_database(instance.database_url)


QUICK_MINUTE = 2.0
