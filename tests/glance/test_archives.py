"""What an image file holds: a docker save archive, a rootfs tarball, or no image."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest

from dockyard.glance.archives import NotAnImage, TarHeaders, inspect


def tar(files: dict[str, bytes], form: int = tarfile.DEFAULT_FORMAT) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w", format=form) as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return data.getvalue()


DIGEST = "ab" * 32
SAVED_MANIFEST = json.dumps(
    [{"Config": f"blobs/sha256/{DIGEST}", "RepoTags": ["busybox:1.36"], "Layers": []}]
).encode()
SAVED_VIEW = {"format": "docker-archive", "repo_tags": ["busybox:1.36"], "digest": f"sha256:{DIGEST}"}
SAVED = tar({f"blobs/sha256/{DIGEST}": b"{}", "manifest.json": SAVED_MANIFEST})
LEGACY = tar({f"{DIGEST}.json": b"{}", "manifest.json": json.dumps([{"Config": f"{DIGEST}.json"}]).encode()})
ROOTFS = tar({"bin/sh": b"#!", "etc/hostname": b"box"})


def walked(data: bytes, piece: int) -> object:
    """What ``TarHeaders`` makes of ``data`` fed in pieces of ``piece`` bytes."""
    headers = TarHeaders()
    for at in range(0, len(data), piece):
        headers.feed(data[at : at + piece])
    outcome = headers.result()
    if isinstance(outcome, NotAnImage):
        raise outcome
    return outcome


LONG = "layers/" + "x" * 150 + "/layer.tar"  # a name past 100 bytes: a pax or GNU header before it
BIG = tar({"data/blob.bin": bytes(range(256)) * 4099, "manifest.json": SAVED_MANIFEST})
UNCOMPRESSED = [
    (SAVED, {"format": "docker-archive", "repo_tags": ["busybox:1.36"], "digest": f"sha256:{DIGEST}"}),
    (LEGACY, {"format": "docker-archive", "repo_tags": [], "digest": f"sha256:{DIGEST}"}),
    (ROOTFS, {"format": "rootfs", "repo_tags": [], "digest": None}),
    (tar({LONG: b"x", "manifest.json": SAVED_MANIFEST}, tarfile.PAX_FORMAT), SAVED_VIEW),
    (tar({LONG: b"x", "manifest.json": SAVED_MANIFEST}, tarfile.GNU_FORMAT), SAVED_VIEW),
    (
        tar({"./" + "y" * 120: b"", "etc/x": b"1"}, tarfile.PAX_FORMAT),
        {"format": "rootfs", "repo_tags": [], "digest": None},
    ),
    (BIG, SAVED_VIEW),
]
UNCOMPRESSED_IDS = [
    "docker save",
    "legacy docker save",
    "rootfs",
    "pax long name",
    "GNU long name",
    "pax rootfs",
    "a large layer",
]


@pytest.mark.parametrize("piece", [1 << 20, 511, 7], ids=["whole", "511-byte pieces", "7-byte pieces"])
@pytest.mark.parametrize(("data", "expected"), UNCOMPRESSED, ids=UNCOMPRESSED_IDS)
def test_tar_headers_see_what_inspect_sees(data: bytes, expected: dict[str, object], piece: int) -> None:
    assert inspect(io.BytesIO(data)) == expected
    assert walked(data, piece) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"not an archive at all\n" * 50,
        b"",
        tar({}),
        tar({"manifest.json": b'{"not": "a list"}'}),
        BIG[: len(BIG) // 2],
    ],
    ids=["text", "empty file", "empty archive", "a manifest that is no docker manifest", "cut short"],
)
def test_tar_headers_refuse_what_inspect_refuses(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        inspect(io.BytesIO(data))
    with pytest.raises(NotAnImage):
        walked(data, 4096)


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
