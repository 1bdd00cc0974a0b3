"""The archive check that reads an image as it is stored: it never stalls the feeder."""

from __future__ import annotations

import gzip
import io
import os
import tarfile

import pytest

from dockyard.glance import archives
from dockyard.glance.uploads import ArchiveCheck


def _tar_of(size: int) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as archive:
        info = tarfile.TarInfo("etc/blob")
        info.size = size
        archive.addfile(info, io.BytesIO(os.urandom(size)))
    return data.getvalue()


@pytest.mark.parametrize(
    ("data", "image"),
    [
        (os.urandom(12 * 1024 * 1024), False),
        (_tar_of(9 * 1024 * 1024), True),
        (gzip.compress(_tar_of(3 * 1024 * 1024), compresslevel=1), True),
        (_tar_of(1024) + os.urandom(6 * 1024 * 1024), True),
    ],
    ids=[
        "random bytes, far more than a pipe holds",
        "a big rootfs",
        "gzip",
        "trailing garbage after the archive",
    ],
)
def test_every_byte_is_taken_and_the_verdict_given(data: bytes, image: bool) -> None:
    inspection = ArchiveCheck()
    for start in range(0, len(data), 5 * 1024 * 1024):
        inspection.feed(data[start : start + 5 * 1024 * 1024])
    inspection.close()
    outcome = inspection.result()
    assert isinstance(outcome, dict) == image, outcome
    if not image:
        assert isinstance(outcome, archives.NotAnImage)
