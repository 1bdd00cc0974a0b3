"""Fixtures of the Glance tests: a server per backend that may import from loopback ports,
a loopback site with image files, an account with its token, the schemas it serves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, database_url_for
from tests.glance.harness import Schemas, Site, rootfs_tarball, token_for
from tests.harness import Credentials, DockyardServer, drop_postgres_database
from tests.objectstore.test_external_store import external_store  # noqa: F401  (moto as the user's store)

# Loopback test sites listen on random ports: the import filter's port list is cleared.
# An import waits this long for a Docker host that does not answer (test_host_loads.py).
GLANCE_ENVIRONMENT = {"DOCKYARD_IMAGE_IMPORT_ALLOWED_PORTS": "", "DOCKYARD_GLANCE_HOST_LOAD_TIMEOUT": "15"}


def start_server(data_dir: Path, backend: str, **environment: str) -> DockyardServer:
    server = DockyardServer(
        data_dir=data_dir,
        database_url=database_url_for(backend),
        environment=GLANCE_ENVIRONMENT | environment,
    )
    return server.start()


def stop_server(server: DockyardServer) -> None:
    if server.process is not None:
        server.stop()
    if server.database_url:
        drop_postgres_database(server.database_url)


@pytest.fixture(scope="session", params=BACKENDS)
def glance_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockyardServer]:
    server = start_server(Path(tmp_path_factory.mktemp(f"glance-{request.param}")), request.param)
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    files = {"rootfs.tar": rootfs_tarball(), "notes.txt": b"this is not an image\n" * 100}
    served = Site(files=files).start()
    yield served
    served.stop()


@pytest.fixture
def tenant(glance_server: DockyardServer) -> Credentials:
    return glance_server.new_account()


@pytest.fixture
def token(glance_server: DockyardServer, tenant: Credentials) -> str:
    return token_for(glance_server, tenant)


@pytest.fixture
def schemas(glance_server: DockyardServer, token: str) -> Schemas:
    return Schemas(glance_server, token)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The CLI's HOME (it caches the schemas there)."""
    return tmp_path
