"""Image data in several parts (the image store's pipeline: hashes, archive check and uploads
side by side) comes back byte for byte, with Glance's md5 and sha512 of it."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile

from dockyard.glance.image_store import PART_BYTES
from tests.glance.harness import client
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
