"""Image data in several parts (the image store's pipeline: hashes, archive check and writes
side by side) comes back byte for byte, with Glance's md5 and sha512 of it, in the embedded
store's folder and in a store the user brings."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import boto3

from dockyard.glance.image_store import BUCKET, PART_BYTES
from dockyard.objectstore.names import SYSTEM_ACCOUNT, backing_bucket
from tests.glance.harness import client, token_for
from tests.harness import DockyardServer


def test_an_image_of_several_parts_comes_back_whole(glance_server: DockyardServer, token: str) -> None:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as archive:
        content = os.urandom(2 * PART_BYTES + 12345)  # three parts, the last a short one
        info = tarfile.TarInfo("data/blob.bin")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    body = data.getvalue()
    images = client(glance_server, token).images
    image = images.create(name="parts", container_format="docker", disk_format="raw")
    images.upload(image["id"], io.BytesIO(body))
    shown = images.get(image["id"])
    assert shown["status"] == "active"
    assert shown["size"] == len(body)
    assert shown["checksum"] == hashlib.md5(body, usedforsecurity=False).hexdigest()
    assert shown["os_hash_value"] == hashlib.sha512(body).hexdigest()
    assert b"".join(images.data(image["id"])) == body


def test_deleting_an_image_keeps_the_bytes_another_shares(glance_server: DockyardServer, token: str) -> None:
    body = os.urandom(100_000)
    images = client(glance_server, token).images
    first, second = (images.create(name=name, container_format="bare", disk_format="raw") for name in "ab")
    for image in (first, second):
        images.upload(image["id"], io.BytesIO(body))
    images.delete(first["id"])  # the object stays: the second image holds it too
    assert b"".join(images.data(second["id"])) == body
    images.delete(second["id"])


def test_a_store_the_user_brings_gets_images_as_multipart_uploads(
    external_store: str, tmp_path: Path
) -> None:
    """With ``--object-store-url`` (moto here) the image store uploads parts to it, reads them
    back and deletes them there."""
    server = DockyardServer(
        data_dir=tmp_path / "server",
        extra_args=("--object-store-url", external_store, "--object-store-access-key-id", "MOTOKEY"),
        environment={"DOCKYARD_OBJECT_STORE_SECRET_ACCESS_KEY": "moto-secret"},
    ).start()
    try:
        body = os.urandom(2 * PART_BYTES + 12345)
        images = client(server, token_for(server, server.new_account())).images
        image = images.create(name="brought", container_format="bare", disk_format="raw")
        images.upload(image["id"], io.BytesIO(body))
        shown = images.get(image["id"])
        assert (shown["size"], shown["checksum"]) == (
            len(body),
            hashlib.md5(body, usedforsecurity=False).hexdigest(),
        )
        assert b"".join(images.data(image["id"])) == body
        direct = boto3.client(
            "s3",
            endpoint_url=external_store,
            region_name="us-east-1",
            aws_access_key_id="MOTOKEY",
            aws_secret_access_key="moto-secret",
        )
        bucket = backing_bucket(SYSTEM_ACCOUNT, BUCKET)
        [stored] = direct.list_objects_v2(Bucket=bucket)["Contents"]
        assert stored["Size"] == len(body)
        assert stored["ETag"].endswith('-3"')  # three parts
        images.delete(image["id"])
        assert "Contents" not in direct.list_objects_v2(Bucket=bucket)
    finally:
        server.stop()
