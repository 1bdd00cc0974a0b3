"""What an image file holds: a docker save archive, a rootfs tarball, or no image."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest

from dockyard.glance.archives import NotAnImage, inspect


def tar(files: dict[str, bytes]) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return data.getvalue()


DIGEST = "ab" * 32
SAVED = tar(
    {
        f"blobs/sha256/{DIGEST}": b"{}",
        "manifest.json": json.dumps(
            [{"Config": f"blobs/sha256/{DIGEST}", "RepoTags": ["busybox:1.36"], "Layers": []}]
        ).encode(),
    }
)
LEGACY = tar({f"{DIGEST}.json": b"{}", "manifest.json": json.dumps([{"Config": f"{DIGEST}.json"}]).encode()})
ROOTFS = tar({"bin/sh": b"#!", "etc/hostname": b"box"})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (SAVED, {"format": "docker-archive", "repo_tags": ["busybox:1.36"], "digest": f"sha256:{DIGEST}"}),
        (
            gzip.compress(SAVED),
            {"format": "docker-archive", "repo_tags": ["busybox:1.36"], "digest": f"sha256:{DIGEST}"},
        ),
        (LEGACY, {"format": "docker-archive", "repo_tags": [], "digest": f"sha256:{DIGEST}"}),
        (ROOTFS, {"format": "rootfs", "repo_tags": [], "digest": None}),
        (gzip.compress(ROOTFS), {"format": "rootfs", "repo_tags": [], "digest": None}),
    ],
    ids=[
        "docker save (OCI layout)",
        "gzip docker save",
        "docker save (legacy layout)",
        "rootfs",
        "gzip rootfs",
    ],
)
def test_images_are_recognised(data: bytes, expected: dict[str, object]) -> None:
    assert inspect(io.BytesIO(data)) == expected


@pytest.mark.parametrize(
    "data",
    [b"not an archive at all\n" * 50, b"", tar({}), tar({"manifest.json": b'{"not": "a list"}'})],
    ids=["text", "empty file", "empty archive", "a manifest that is no docker manifest"],
)
def test_anything_else_is_no_image(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        inspect(io.BytesIO(data))
