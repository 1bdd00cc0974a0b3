"""Fixtures: real server processes on SQLite and PostgreSQL, fresh accounts, boto3 clients.

Every test that takes ``ecs`` runs once per database backend. Each test gets an account of
its own, so tests share a server process yet never see each other's resources.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import (
    Credentials,
    DockyardServer,
    HollowAgents,
    drop_postgres_database,
    new_postgres_database,
)

BACKENDS = ["sqlite", "postgresql"]
# Every server the suite starts (and every process it spawns) checks each response against
# botocore's output shape: a misspelt member fails the test that received it.
os.environ.setdefault("DOCKYARD_VALIDATE_RESPONSES", "1")


def postgres_admin_url() -> str:
    url = os.environ.get("DOCKYARD_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("DOCKYARD_TEST_POSTGRES_URL is not set: CI must run the PostgreSQL tests")
        pytest.skip("no PostgreSQL server (set DOCKYARD_TEST_POSTGRES_URL or run scripts/test)")
    return url


def database_url_for(backend: str) -> str | None:
    return new_postgres_database(postgres_admin_url()) if backend == "postgresql" else None


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockyardServer]:
    """A running ``dockyard server`` on one backend, shared by the tests of a worker."""
    data_dir = Path(tmp_path_factory.mktemp(f"dockyard-{request.param}"))
    instance = DockyardServer(data_dir=data_dir, database_url=database_url_for(request.param)).start()
    yield instance
    if instance.process is not None:
        instance.stop()
    if instance.database_url:
        drop_postgres_database(instance.database_url)


@pytest.fixture
def account(server: DockyardServer) -> Credentials:
    return server.new_account()


@pytest.fixture
def ecs(server: DockyardServer, account: Credentials) -> Any:
    """A boto3 ECS client signed with a key of a fresh account."""
    return server.client(account)


@pytest.fixture
def hollow(server: DockyardServer, account: Credentials) -> Iterator[HollowAgents]:
    """Hollow agents of the test's account: instances that are connected and take tasks."""
    agents = HollowAgents(server, account)
    yield agents
    agents.close()


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A reachable Docker Engine with Dockyard's demo image, dockyard/busybox (scripts/docker-engine
    makes both; the user's own busybox is never touched)."""
    import subprocess

    reachable = (
        subprocess.run(
            ["docker", "image", "inspect", "dockyard/busybox:latest"], capture_output=True, check=False
        ).returncode
        == 0
    )
    if not reachable:
        if os.environ.get("CI"):
            pytest.fail("no Docker Engine with dockyard/busybox:latest: CI must run the Docker tests")
        pytest.skip("no Docker Engine (run scripts/docker-engine)")


_DOCKER_FIXTURES = {"docker_engine", "docker_driver", "docker_host"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that takes a Docker fixture needs the engine, marked or not (the quick tier
    leaves out every ``docker`` and ``agents`` test)."""
    for item in items:
        if _DOCKER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.docker)
