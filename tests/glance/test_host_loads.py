"""An image that turns active goes to every connected Docker host of its account
(glance/host_loads.py, agent/images.py ``PushedLoads``): real agents on the real Docker Engine."""

from __future__ import annotations

import io
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKENDS
from tests.glance.conftest import start_server, stop_server
from tests.glance.harness import Site, client, docker_archive, token_for, wait_task
from tests.harness import (
    Credentials,
    DockyardAgent,
    DockyardServer,
    HollowAgents,
    connected_instances,
    wait_for,
)


def on_engine(name: str) -> bool:
    inspected = subprocess.run(
        ["docker", "image", "inspect", name], capture_output=True, check=False, timeout=60
    )
    return inspected.returncode == 0


@pytest.fixture
def names() -> Iterator[list[str]]:
    """Image names of this test only (removed from the engine afterwards)."""
    made: list[str] = []
    yield made
    for name in made:
        subprocess.run(["docker", "rmi", "-f", name], capture_output=True, check=False, timeout=60)


@pytest.fixture
def agents(glance_server: DockyardServer, tenant: Credentials) -> Iterator[HollowAgents]:
    fleet = HollowAgents(glance_server, tenant)
    yield fleet
    fleet.close()


def import_task(glance_server: DockyardServer, token: str, url: str, name: str) -> dict[str, Any]:
    task = client(glance_server, token).tasks.create(
        type="import",
        input={
            "import_from": url,
            "import_from_format": "docker",
            "image_properties": {"name": name, "container_format": "docker", "disk_format": "raw"},
        },
    )
    return wait_task(glance_server, token, task["id"])


@pytest.mark.docker
@pytest.mark.agents
def test_imports_and_uploads_load_on_every_connected_docker_host(
    glance_server: DockyardServer,
    tenant: Credentials,
    site: Site,
    tmp_path: Any,
    docker_engine: None,
    agents: HollowAgents,
    names: list[str],
) -> None:
    suffix = secrets.token_hex(4)
    imported, again, uploaded = (f"glance-e2e/{kind}-{suffix}:1" for kind in ("pushed", "again", "upload"))
    names += [imported, again, uploaded]
    ecs = glance_server.client(tenant)
    ecs.create_cluster(clusterName="default")
    agent = DockyardAgent(glance_server, tenant, tmp_path / "agent", driver="docker").start()
    try:
        hollow = agents.start(1)  # no Docker host: never asked
        connected = connected_instances(ecs, 2, message=agent.log()[-2000:])
        docker_host = next(arn for arn in connected if arn not in hollow.arns)
        token = token_for(glance_server, tenant)
        site.files[f"pushed-{suffix}.tar"] = docker_archive()

        task = import_task(glance_server, token, f"{site.base}/pushed-{suffix}.tar", imported)
        assert task["status"] == "success", task
        assert task["result"]["hosts_loaded"] == [docker_host], (task, agent.log()[-3000:])
        assert task["result"]["hosts_failed"] == []
        assert on_engine(imported)  # no task ever ran it

        # The same bytes again: the host has the digest already and answers at once.
        task = import_task(glance_server, token, f"{site.base}/pushed-{suffix}.tar", again)
        assert task["result"]["hosts_loaded"] == [docker_host], task
        assert on_engine(again)

        images = client(glance_server, token).images
        image = images.create(name=uploaded, container_format="docker", disk_format="raw")
        images.upload(image["id"], io.BytesIO(site.files["rootfs.tar"]))
        wait_for(lambda: on_engine(uploaded), timeout=60, message=agent.log()[-3000:])
    finally:
        agent.stop()


def test_a_docker_host_that_never_answers_counts_as_failed(
    glance_server: DockyardServer, tenant: Credentials, token: str, site: Site, agents: HollowAgents
) -> None:
    # A hollow agent that says it runs Docker: it takes the loadImage frame and never answers.
    ecs = glance_server.client(tenant)
    ecs.create_cluster(clusterName="default")
    silent = agents.instance(ecs, attributes=[{"name": "dockyard.driver", "value": "docker"}])
    name = f"glance-e2e/silent-{secrets.token_hex(4)}:1"
    task = import_task(glance_server, token, f"{site.base}/rootfs.tar", name)
    assert task["status"] == "success", task
    arn = silent["containerInstanceArn"]
    assert task["result"]["hosts_loaded"] == []
    assert task["result"]["hosts_failed"] == [arn]
    assert task["result"]["hosts_errors"][arn].startswith("no answer within"), task


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_restart_while_hosts_load_resumes_the_wait(backend: str, tmp_path: Path, site: Site) -> None:
    server = start_server(tmp_path / "data", backend)
    fleet: HollowAgents | None = None
    try:
        account = server.new_account()
        ecs = server.client(account)
        ecs.create_cluster(clusterName="default")
        fleet = HollowAgents(server, account)
        silent = fleet.instance(ecs, attributes=[{"name": "dockyard.driver", "value": "docker"}])
        token = token_for(server, account)
        name = f"glance-e2e/restart-{secrets.token_hex(4)}:1"
        task = client(server, token).tasks.create(
            type="import",
            input={
                "import_from": f"{site.base}/rootfs.tar",
                "import_from_format": "docker",
                "image_properties": {"name": name, "container_format": "docker", "disk_format": "raw"},
            },
        )

        def active() -> bool:
            return any(
                i["status"] == "active" for i in client(server, token).images.list(filters={"name": name})
            )

        wait_for(active, timeout=60, message="the image never turned active")
        assert client(server, token).tasks.get(task["id"])["status"] == "processing"  # waiting on the host
        server.stop(signal.SIGKILL)
        server.start(timeout=60)
        token = token_for(server, account)
        ended = wait_task(server, token, task["id"], timeout=90)
        assert ended["status"] == "success", ended
        assert ended["result"]["hosts_failed"] == [silent["containerInstanceArn"]]
        assert [i["name"] for i in client(server, token).images.list(filters={"name": name})] == [name]
    finally:
        if fleet is not None:
            fleet.close()
        stop_server(server)
