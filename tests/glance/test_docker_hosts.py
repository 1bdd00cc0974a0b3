"""Imported and uploaded images reach a Docker host: a task definition naming a Glance image
runs on a real Docker Engine whose agent loads the image from the control plane's store."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.glance.harness import Site, cli, client, docker_archive, token_for, wait_task
from tests.harness import Credentials, DockyardAgent, DockyardServer, Tenant, connected_instances

pytestmark = [pytest.mark.docker, pytest.mark.agents]


def busybox_rootfs() -> bytes:
    """``docker export`` of a dockyard/busybox container: a rootfs tarball with a shell."""
    made = subprocess.run(
        ["docker", "create", "dockyard/busybox:latest"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    container = made.stdout.strip()
    try:
        return subprocess.run(
            ["docker", "export", container], check=True, capture_output=True, timeout=60
        ).stdout
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False, timeout=60)


@pytest.fixture
def names() -> Iterator[list[str]]:
    """Image names of this test only (removed from the engine afterwards)."""
    made: list[str] = []
    yield made
    for name in made:
        subprocess.run(["docker", "rmi", "-f", name], capture_output=True, check=False, timeout=60)


def test_tasks_run_images_from_the_image_store(
    glance_server: DockyardServer,
    tenant: Credentials,
    site: Site,
    home: Path,
    tmp_path: Path,
    docker_engine: None,
    names: list[str],
) -> None:
    suffix = secrets.token_hex(4)
    imported, uploaded = f"glance-e2e/imported-{suffix}:1", f"glance-e2e/uploaded-{suffix}:1"
    names += [imported, uploaded]
    token = token_for(glance_server, tenant)
    site.files[f"busybox-{suffix}.tar"] = docker_archive()
    task = client(glance_server, token).tasks.create(
        type="import",
        input={
            "import_from": f"{site.base}/busybox-{suffix}.tar",
            "import_from_format": "docker",
            "image_properties": {"name": imported, "container_format": "docker", "disk_format": "raw"},
        },
    )
    assert wait_task(glance_server, token, task["id"])["status"] == "success"
    rootfs = tmp_path / "rootfs.tar"
    rootfs.write_bytes(busybox_rootfs())
    made = cli(
        glance_server,
        home,
        token,
        "image-create",
        "--name",
        uploaded,
        "--container-format",
        "docker",
        "--disk-format",
        "raw",
        "--file",
        str(rootfs),
    )
    assert made.returncode == 0, made.stderr
    agent = DockyardAgent(glance_server, tenant, tmp_path / "agent", driver="docker").start()
    try:
        ecs = glance_server.client(tenant)
        ecs.create_cluster(clusterName="default")
        connected_instances(ecs, 1, message=agent.log()[-2000:])
        fleet = Tenant(glance_server, tenant, agent)
        for image in (imported, uploaded):
            family = "glance-" + secrets.token_hex(3)
            container = {"name": "main", "image": image, "memory": 32, "command": ["echo", f"ran {image}"]}
            if image == uploaded:  # a rootfs import has no default command
                container["entryPoint"] = ["/bin/sh", "-c"]
                container["command"] = [f"echo ran {image}"]
            arn = fleet.run(family, [container])
            stopped = fleet.wait_status(arn, "STOPPED", timeout=120)
            assert stopped["containers"][0].get("exitCode") == 0, (stopped, agent.log()[-3000:])
            assert f"ran {image}" in fleet.logs(arn)
    finally:
        agent.stop()
