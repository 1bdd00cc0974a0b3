"""The Images API minimum: create, upload (``image-create --file``), show, list, download,
delete; a ``docker save`` archive imported by a task."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import glanceclient.exc
import pytest

from tests.glance.harness import (
    Schemas,
    Site,
    cli,
    client,
    docker_archive,
    request,
    rootfs_tarball,
    wait_task,
)
from tests.harness import DockyardServer


def test_image_create_with_a_file_uploads_it(
    glance_server: DockyardServer, token: str, home: Path, tmp_path: Path, schemas: Schemas
) -> None:
    data = rootfs_tarball()
    path = tmp_path / "rootfs.tar"
    path.write_bytes(data)
    made = cli(
        glance_server,
        home,
        token,
        "image-create",
        "--name",
        "uploaded",
        "--container-format",
        "docker",
        "--disk-format",
        "raw",
        "--file",
        str(path),
    )
    assert made.returncode == 0, made.stderr
    glance = client(glance_server, token)
    (image,) = list(glance.images.list(filters={"name": "uploaded"}))
    shown = schemas.check(
        json.loads(request(glance_server, "GET", f"/image/v2/images/{image['id']}", token=token)[2]), "image"
    )
    assert shown["status"] == "active" and shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_algo"] == "sha512" and shown["owner"] and shown["visibility"] == "private"
    assert b"".join(glance.images.data(image["id"])) == data
    with pytest.raises(glanceclient.exc.HTTPConflict):
        glance.images.upload(image["id"], io.BytesIO(b"more"))
    listed = cli(glance_server, home, token, "image-list")
    assert listed.returncode == 0 and image["id"] in listed.stdout
    deleted = cli(glance_server, home, token, "image-delete", image["id"])
    assert deleted.returncode == 0, deleted.stderr
    with pytest.raises(glanceclient.exc.HTTPNotFound):
        glance.images.get(image["id"])


def test_images_list_sorts_filters_and_pages(
    glance_server: DockyardServer, token: str, schemas: Schemas
) -> None:
    glance = client(glance_server, token)
    made = [glance.images.create(name=name, container_format="docker", disk_format="raw") for name in "cab"]
    assert [i["name"] for i in glance.images.list(sort_key="name", sort_dir="asc")] == ["a", "b", "c"]
    assert [i["id"] for i in glance.images.list(filters={"name": "b"})] == [made[2]["id"]]
    assert len(list(glance.images.list(filters={"status": "queued"}))) == 3
    status, _, raw = request(
        glance_server, "GET", "/image/v2/images?limit=2&sort_key=name&sort_dir=desc", token=token
    )
    page = schemas.check(json.loads(raw), "images")
    assert [i["name"] for i in page["images"]] == ["c", "b"] and "marker=" in page["next"]
    status, _, raw = request(glance_server, "GET", "/image" + page["next"], token=token)
    assert [i["name"] for i in schemas.check(json.loads(raw), "images")["images"]] == ["a"]
    for query, words in [
        ("sort_key=colour", "Invalid sort key: colour"),
        ("sort_dir=up", "Invalid sort direction: up"),
    ]:
        with pytest.raises(glanceclient.exc.HTTPBadRequest, match=words):
            glance.http_client.get(f"/v2/images?{query}")
    assert list(glance.images.list(filters={"visibility": "public"})) == []  # all are private
    assert len(list(glance.images.list(filters={"visibility": "private"}))) == 3
    protected = glance.images.create(name="kept", protected=True)
    with pytest.raises(glanceclient.exc.HTTPForbidden):
        glance.images.delete(protected["id"])
    with pytest.raises(glanceclient.exc.HTTPForbidden, match="read-only"):
        glance.http_client.post("/v2/images", data={"name": "x", "status": "active"})
    with pytest.raises(glanceclient.exc.HTTPBadRequest, match="does not match schema 'image'"):
        glance.http_client.post("/v2/images", data={"name": "x", "container_format": "crate"})
    status, _, _ = request(glance_server, "GET", "/image/v2/schemas/metadefs/namespace", token=token)
    assert status == 404


def test_a_docker_save_archive_is_imported_with_its_tags(
    glance_server: DockyardServer, token: str, site: Site, schemas: Schemas, docker_engine: None
) -> None:
    site.files["busybox.tar"] = docker_archive()
    site.files["busybox.tar.gz"] = __import__("gzip").compress(site.files["busybox.tar"], compresslevel=1)
    for name in ("busybox.tar", "busybox.tar.gz"):
        task = client(glance_server, token).tasks.create(
            type="import",
            input={
                "import_from": f"{site.base}/{name}",
                "import_from_format": "docker",
                "image_properties": {
                    "name": "busybox:1.36",
                    "container_format": "docker",
                    "disk_format": "raw",
                },
            },
        )
        ended = schemas.check(wait_task(glance_server, token, task["id"]), "task")
        assert ended["status"] == "success", ended["message"]
        assert ended["result"]["repo_tags"] == ["dockyard/busybox:latest"]
        assert (
            ended["result"]["digest"].startswith("sha256:") and ended["result"]["format"] == "docker-archive"
        )
        image = client(glance_server, token).images.get(ended["result"]["image_id"])
        assert image["size"] == len(site.files[name]) and image["status"] == "active"
