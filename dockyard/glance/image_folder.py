"""Image data in the embedded object store's folder, written and read straight from disk.

The embedded store is ``rclone serve s3`` over a folder, run by this process: a bucket is a
folder and a key a path below it. Sending a GiB through rclone's S3 took more CPU than the rest
of an import (rclone received it, took its own md5 of every part and wrote it through the page
cache), so the image store reads and writes the files of its own bucket itself (only the image
store uses that bucket, so rclone's directory cache never holds a view of it that matters):

- an image is written into an unnamed file (``O_TMPFILE``) in its key's folder and linked under
  the key once complete, so a failed, abandoned or killed write leaves nothing behind (where
  the file system has no ``O_TMPFILE``: a dot-file, removed on failure);
- with ``O_DIRECT`` where the file system takes it (the parts are page-aligned buffers): copying
  a GiB into fresh page-cache pages cost seconds of system CPU on our virtual machines, writing
  it direct ~0.1 s; few read an image back (the hosts that load it, once each);
- the file and its folder are fsynced before the image turns active in the database.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

ALIGN = 4096  # what O_DIRECT wants of offsets and lengths (and of addresses: mmap pages are)
_NO_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL}
# Linux's; elsewhere a directory opened for writing fails (EISDIR) and nothing is direct.
_O_TMPFILE = getattr(os, "O_TMPFILE", 0)
_O_DIRECT = getattr(os, "O_DIRECT", 0)


class FolderWriter:
    """One file being written at ``path``: parts at their offsets, then ``finish`` or ``abort``
    (parts come in order on one thread: ``threads``)."""

    threads = 1

    def __init__(self, path: Path, part_bytes: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self.part_bytes = part_bytes
        self._temporary: Path | None = None
        try:
            self.fd = os.open(path.parent, _O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        except OSError as error:
            if error.errno not in _NO_TMPFILE:
                raise
            self._temporary = path.with_name(f".incoming-{path.name}")
            self.fd = os.open(self._temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        self.direct = self._set_direct(True)

    def _set_direct(self, direct: bool) -> bool:
        if not _O_DIRECT:
            return False
        flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        try:
            fcntl.fcntl(self.fd, fcntl.F_SETFL, (flags | _O_DIRECT) if direct else (flags & ~_O_DIRECT))
        except OSError:  # a file system without direct I/O (tmpfs)
            return False
        return direct

    def write(self, number: int, data: memoryview) -> None:
        """Part ``number`` (from 1; every part but the last ``part_bytes`` long)."""
        offset = (number - 1) * self.part_bytes
        if self.direct and len(data) % ALIGN:  # the short last part goes through the page cache
            self.direct = self._set_direct(False)
        while data:
            try:
                written = os.pwrite(self.fd, data, offset)
            except OSError as error:
                if not (self.direct and error.errno == errno.EINVAL):
                    raise
                self.direct = self._set_direct(False)  # a device wanting larger blocks
                continue
            data, offset = data[written:], offset + written

    def finish(self) -> None:
        """The file under its name, on disk."""
        os.fsync(self.fd)
        folder = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if self._temporary is None:  # linkat(AT_SYMLINK_FOLLOW) names the unnamed file
                os.link(f"/proc/self/fd/{self.fd}", self.path.name, dst_dir_fd=folder, follow_symlinks=True)
            else:
                os.rename(self._temporary, self.path)
            os.fsync(folder)
        finally:
            os.close(folder)
            os.close(self.fd)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
        if self._temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                self._temporary.unlink()


class ImageFolder:
    """The image store's bucket as the embedded store's folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def create(self) -> None:
        """The bucket, as rclone makes one: a folder (the store's own folder private)."""
        self.folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.folder.mkdir(exist_ok=True, mode=0o700)

    def path(self, key: str) -> Path:
        path = (self.folder / key).resolve()
        if not path.is_relative_to(self.folder.resolve()):
            raise ValueError(f"bad image key {key!r}")
        return path

    def writer(self, key: str, part_bytes: int) -> FolderWriter:
        return FolderWriter(self.path(key), part_bytes)

    def read(self, key: str, chunk_bytes: int) -> Iterator[bytes]:
        with self.path(key).open("rb", buffering=0) as handle:
            while chunk := handle.read(chunk_bytes):
                yield chunk

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):  # already gone
            self.path(key).unlink()
