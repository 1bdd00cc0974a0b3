"""Image files in the embedded store's folder: written in parts (direct where the file system
takes it), named only when complete, nothing left by a failed write; and the image store's
pipeline over them (hashes, the observer, a size limit, reads and deletes)."""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.glance import image_folder
from dockyard.glance.image_folder import ImageFolder
from dockyard.glance.image_store import PART_BYTES, Chunks, ImageStore
from dockyard.objectstore import ObjectStore, ObjectStoreSettings

PART = 64 * 1024  # the writer's part size in these tests


def _aligned(data: bytes) -> memoryview:
    """``data`` in page-aligned memory, as the image store hands parts over."""
    buffer = mmap.mmap(-1, max(len(data), 1))
    buffer[: len(data)] = data
    return memoryview(buffer)[: len(data)]


def _no_tmpfile(monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def refusing(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(errno.EOPNOTSUPP, "no O_TMPFILE here")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(image_folder.os, "open", refusing)


def _files(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


@pytest.mark.parametrize(
    ("size", "tmpfile"),
    [
        (0, True),
        (100, True),
        (PART, True),
        (3 * PART, True),
        (3 * PART + 12345, True),
        (2 * PART + 1, False),
    ],
    ids=[
        "an empty file",
        "less than a block",
        "one whole part",
        "whole parts only",
        "a short last part",
        "a file system without O_TMPFILE: a dot-file renamed",
    ],
)
def test_a_file_written_in_parts_reads_back_whole(
    size: int, tmpfile: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not tmpfile:
        _no_tmpfile(monkeypatch)
    data = os.urandom(size)
    folder = ImageFolder(tmp_path)
    writer = folder.writer("images/one", PART)
    for number, start in enumerate(range(0, max(size, 1), PART), start=1):
        writer.write(number, _aligned(data[start : start + PART]))
        assert _files(tmp_path) == ([] if tmpfile else ["images/.incoming-one"])  # not under its name yet
    writer.finish()
    assert _files(tmp_path) == ["images/one"]
    assert b"".join(folder.read("images/one", 1000)) == data
    folder.delete("images/one")
    folder.delete("images/one")  # already gone: fine
    assert _files(tmp_path) == []


@pytest.mark.parametrize("tmpfile", [True, False], ids=["O_TMPFILE", "a dot-file"])
def test_an_aborted_write_leaves_nothing(
    tmpfile: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not tmpfile:
        _no_tmpfile(monkeypatch)
    writer = ImageFolder(tmp_path).writer("images/half", PART)
    writer.write(1, _aligned(os.urandom(PART)))
    writer.abort()
    assert _files(tmp_path) == []


def test_direct_writes_fall_back_where_refused(tmp_path: Path) -> None:
    """A part from memory O_DIRECT refuses (not aligned) is written through the page cache."""
    writer = ImageFolder(tmp_path).writer("images/x", PART)
    if not writer.direct:
        pytest.skip("no direct I/O on this file system")
    unaligned = memoryview(bytearray(PART + 1))[1:]
    unaligned[:] = os.urandom(PART)
    writer.write(1, unaligned)
    assert not writer.direct
    writer.finish()
    assert (tmp_path / "images" / "x").read_bytes() == bytes(unaligned)


@pytest.mark.parametrize("key", ["../escape", "images/../../escape", "/etc/passwd"])
def test_a_key_never_names_a_path_outside_the_folder(key: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bad image key"):
        ImageFolder(tmp_path / "bucket").path(key)


def _store(root: Path) -> ImageStore:
    """An image store over the embedded store's folder (rclone is never started: the folder
    path needs none)."""
    return ImageStore(ObjectStore(ObjectStoreSettings(root=root)))


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize(
    "size",
    [0, 5, PART_BYTES, 2 * PART_BYTES + 777, 6 * PART_BYTES],
    ids=["empty", "tiny", "one whole part", "a short last part", "more parts than buffers"],
)
def test_the_pipeline_stores_hashes_and_shows_every_byte(size: int, tmp_path: Path) -> None:
    data = os.urandom(size)
    seen = bytearray()
    store = _store(tmp_path)
    assert store.folder is not None
    stored = store.put(Chunks(_pieces(data, 100_003)), observe=lambda part: seen.extend(part))
    assert bytes(seen) == data
    assert (stored.size, stored.checksum, stored.os_hash_value) == (
        size,
        hashlib.md5(data, usedforsecurity=False).hexdigest(),
        hashlib.sha512(data).hexdigest(),
    )
    assert b"".join(store.read(stored.key)) == data
    store.delete(stored.key)
    assert _files(tmp_path) == []


@pytest.mark.parametrize(
    "failure",
    ["limit", "observer", "source"],
    ids=["more bytes than the limit", "the observer fails", "the source fails mid-way"],
)
def test_a_failed_put_leaves_no_file(failure: str, tmp_path: Path) -> None:
    data = os.urandom(3 * PART_BYTES)

    def pieces() -> Iterator[bytes]:
        yield data[:PART_BYTES]
        yield data[PART_BYTES : 2 * PART_BYTES]
        if failure == "source":
            raise ConnectionResetError("the site went away")
        yield data[2 * PART_BYTES :]

    def observe(part: memoryview) -> None:
        if failure == "observer" and part[:1] == data[PART_BYTES : PART_BYTES + 1]:
            raise RuntimeError("the archive check broke")

    limit = 2 * PART_BYTES + 1 if failure == "limit" else None
    with pytest.raises((ValueError, RuntimeError, ConnectionResetError)):
        _store(tmp_path).put(Chunks(pieces()), limit=limit, observe=observe)
    assert _files(tmp_path) == []
