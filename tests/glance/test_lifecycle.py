"""Tasks across restarts and time: a server killed while a task is processing ends it after
its restart; tasks and images survive restarts; an ended task expires."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from dockyard.objectstore.names import SYSTEM_ACCOUNT, backing_bucket
from tests.conftest import BACKENDS
from tests.glance.conftest import start_server, stop_server
from tests.glance.harness import Site, client, request, rootfs_tarball, token_for, wait_task
from tests.harness import wait_for

PROPERTIES = {"name": "rootfs", "container_format": "docker", "disk_format": "raw"}


def _import(url: str) -> dict[str, object]:
    return {"import_from": url, "import_from_format": "docker", "image_properties": PROPERTIES}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_task_processing_when_its_server_dies_still_ends(backend: str, tmp_path: Path) -> None:
    site = Site(files={"rootfs.tar": rootfs_tarball()}).start()
    server = start_server(tmp_path / "data", backend)
    try:
        account = server.new_account()
        token = token_for(server, account)
        done = client(server, token).tasks.create(type="import", input=_import(f"{site.base}/rootfs.tar"))
        image_id = wait_task(server, token, done["id"])["result"]["image_id"]
        slow = client(server, token).tasks.create(
            type="import", input=_import(f"{site.base}/slow/rootfs.tar")
        )
        assert site.slow_started.wait(60), "the import never started"
        assert client(server, token).tasks.get(slow["id"])["status"] == "processing"
        server.stop(signal.SIGKILL)
        site.release.set()
        server.start()
        token = token_for(server, account)
        ended = wait_task(server, token, slow["id"], timeout=90)
        assert ended["status"] == "success", ended["message"]
        glance = client(server, token)
        assert glance.images.get(image_id)["status"] == "active"
        assert b"".join(glance.images.data(image_id)) == rootfs_tarball()
        assert {t["id"] for t in glance.tasks.list()} == {done["id"], slow["id"]}
        # Only one image per task: the killed try's half-made image went, and its bytes with it
        # (both images hold the same bytes: one file).
        assert len(list(glance.images.list())) == 2
        folder = tmp_path / "data" / "objects" / backing_bucket(SYSTEM_ACCOUNT, "images") / "images"
        assert len(list(folder.iterdir())) == 1
    finally:
        stop_server(server)
        site.stop()


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_ended_task_expires(backend: str, tmp_path: Path) -> None:
    site = Site(files={"rootfs.tar": rootfs_tarball()}).start()
    server = start_server(
        tmp_path / "data", backend, DOCKYARD_GLANCE_TASK_TTL="1", DOCKYARD_GLANCE_EXPIRE_INTERVAL="0.2"
    )
    try:
        token = token_for(server, server.new_account())
        task = client(server, token).tasks.create(type="import", input=_import(f"{site.base}/rootfs.tar"))
        ended = wait_task(server, token, task["id"])
        assert ended["status"] == "success" and ended["expires_at"]
        wait_for(
            lambda: request(server, "GET", f"/image/v2/tasks/{task['id']}", token=token)[0] == 404,
            timeout=30,
            message="the task never expired",
        )
        status, _, raw = request(server, "GET", "/image/v2/tasks", token=token)
        assert status == 200 and json.loads(raw)["tasks"] == []
        assert client(server, token).images.get(ended["result"]["image_id"])["status"] == "active"
    finally:
        stop_server(server)
        site.stop()


@pytest.mark.parametrize("backend", BACKENDS)
def test_file_imports_read_only_below_the_import_folder(backend: str, tmp_path: Path) -> None:
    import glanceclient.exc

    folder = tmp_path / "imports"
    folder.mkdir()
    (folder / "rootfs.tar").write_bytes(rootfs_tarball())
    (tmp_path / "secret.tar").write_bytes(rootfs_tarball())
    server = start_server(tmp_path / "data", backend)
    server.stop()
    server.extra_args = ("--image-import-dir", str(folder))
    server.start()
    try:
        token = token_for(server, server.new_account())
        glance = client(server, token)
        task = glance.tasks.create(type="import", input=_import(f"file://{folder}/rootfs.tar"))
        assert wait_task(server, token, task["id"])["status"] == "success"
        for outside in (f"file://{tmp_path}/secret.tar", f"file://{folder}/../secret.tar"):
            with pytest.raises(glanceclient.exc.HTTPBadRequest, match="File based imports are not allowed"):
                glance.tasks.create(type="import", input=_import(outside))
    finally:
        stop_server(server)
