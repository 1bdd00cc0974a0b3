"""The image store: a bucket of Dockyard's own in the object store.

Image data streams in (``put``) under its final key (``images/<uuid>``: the digest is not
known before the end, and a copy to a content address would write every image twice). The
source is read straight into a few page-aligned part buffers, reused all along, and each part
goes through a pipeline of single-thread stages that run side by side (hashlib, sockets and
file writes let go of the GIL): md5 (Glance's ``checksum``), sha512 (``os_hash_value``), the
caller's ``observe`` (the archive check) and the write, at most ``PARTS_IN_FLIGHT`` parts at
once while the next one is read. So memory stays at a few parts whatever the image's size, and
the slowest stage, not their sum, sets the pace.

Where the bytes go: with the embedded store, files of its folder written by this process
(``image_folder``: no second process copies and hashes every byte again); with a store the
user brings, a multipart upload (two parts at once, UNSIGNED-PAYLOAD: the image store checks
its own digests). Images with the same bytes share one object (``images.shared_key``).
Blocking: call from a worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import anyio.to_thread
from botocore.exceptions import ClientError

from dockyard.glance.image_folder import ImageFolder
from dockyard.objectstore import SYSTEM_ACCOUNT, ObjectStore

BUCKET = "images"
PART_BYTES = 8 * 1024 * 1024  # S3 wants 5 MiB or more but the last
READ_BYTES = PART_BYTES  # a download read is a part: no regrouping copy
PARTS_IN_FLIGHT = 3
UPLOADS_AT_ONCE = 2


class Source(Protocol):
    def readinto(self, buffer: memoryview, /) -> int:
        """Fill the start of ``buffer``; how many bytes (0: the end)."""


class Writer(Protocol):
    threads: int

    def write(self, number: int, data: memoryview) -> None: ...
    def finish(self) -> None: ...
    def abort(self) -> None: ...


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    checksum: str  # md5
    os_hash_value: str  # sha512


class Chunks:
    """Byte chunks (a request body) as a ``Source``."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._left = memoryview(b"")

    def readinto(self, buffer: memoryview, /) -> int:
        filled = 0
        while filled < len(buffer):
            if not self._left:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._left = memoryview(chunk).cast("B")
                continue
            take = min(len(self._left), len(buffer) - filled)
            buffer[filled : filled + take] = self._left[:take]
            self._left, filled = self._left[take:], filled + take
        return filled


class _Stage:
    """One step applied to every part: in order on a thread of its own, or on ``threads``."""

    def __init__(self, step: Callable[[int, memoryview], object], threads: int = 1) -> None:
        self.step = step
        self.pool = ThreadPoolExecutor(max_workers=threads)

    def submit(self, number: int, part: memoryview) -> Future[object]:
        return self.pool.submit(self.step, number, part)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _Multipart:
    """One multipart upload to the object store (parts in any order)."""

    threads = UPLOADS_AT_ONCE

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self.client, self.target = client, {"Bucket": bucket, "Key": key}
        self.upload = client.create_multipart_upload(**self.target)["UploadId"]
        self.etags: dict[int, str] = {}

    def write(self, number: int, data: memoryview) -> None:
        answer = self.client.upload_part(
            **self.target, UploadId=self.upload, PartNumber=number, Body=bytes(data)
        )
        self.etags[number] = answer["ETag"]

    def finish(self) -> None:
        parts = [{"PartNumber": number, "ETag": etag} for number, etag in sorted(self.etags.items())]
        self.client.complete_multipart_upload(
            **self.target, UploadId=self.upload, MultipartUpload={"Parts": parts}
        )

    def abort(self) -> None:
        self.client.abort_multipart_upload(**self.target, UploadId=self.upload)


class ImageStore:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.bucket = store.backing_bucket(SYSTEM_ACCOUNT, BUCKET)
        folder = store.bucket_folder(SYSTEM_ACCOUNT, BUCKET)
        self.folder = ImageFolder(folder) if folder is not None else None

    async def ready(self) -> None:
        if self.folder is not None:  # nothing goes through rclone: it need not even run
            await anyio.to_thread.run_sync(self.folder.create)
        else:
            await self.store.ensure_bucket(SYSTEM_ACCOUNT, BUCKET)

    def _writer(self, key: str) -> Writer:
        if self.folder is not None:
            return self.folder.writer(key, PART_BYTES)
        return _Multipart(self.store.client(bulk=True), self.bucket, key)

    def put(
        self,
        source: Source,
        limit: int | None = None,
        observe: Callable[[memoryview], object] | None = None,
    ) -> Stored:
        """Store what ``source`` reads (each part also handed to ``observe``, in order, valid
        only during the call); ValueError if it holds more than ``limit`` bytes."""
        md5, sha512 = hashlib.md5(usedforsecurity=False), hashlib.sha512()
        key = f"images/{uuid.uuid4()}"
        writer = self._writer(key)
        stages = [
            _Stage(lambda _, part: md5.update(part)),
            _Stage(lambda _, part: sha512.update(part)),
            _Stage(writer.write, threads=writer.threads),
        ]
        if observe is not None:
            stages.append(_Stage(lambda _, part: observe(part)))
        # Reused all along: fresh pages for every part cost page faults (and O_DIRECT wants pages).
        free = deque(memoryview(mmap.mmap(-1, PART_BYTES)) for _ in range(PARTS_IN_FLIGHT + 1))
        in_flight: deque[tuple[memoryview, list[Future[object]]]] = deque()
        size = number = 0

        def settle_oldest() -> None:
            buffer, futures = in_flight.popleft()
            for future in futures:
                future.result()  # a stage's error stops the upload
            free.append(buffer)

        try:
            while True:
                if len(in_flight) >= PARTS_IN_FLIGHT:
                    settle_oldest()
                buffer = free.popleft()
                length = _fill(source, buffer)
                if length == 0 and number > 0:
                    break
                size += length
                if limit is not None and size > limit:
                    raise ValueError(f"image data exceeds {limit} bytes")
                number += 1  # an empty stream is one empty part: a multipart upload needs one
                part = buffer[:length]
                in_flight.append((buffer, [stage.submit(number, part) for stage in stages]))
                if length < PART_BYTES:
                    break
            while in_flight:
                settle_oldest()
            writer.finish()
        except BaseException:
            for stage in stages:
                stage.close()
            writer.abort()
            raise
        for stage in stages:
            stage.close()
        return Stored(key, size, md5.hexdigest(), sha512.hexdigest())

    def read(self, key: str) -> Iterator[bytes]:
        """The object's bytes, in chunks."""
        if self.folder is not None:
            yield from self.folder.read(key, READ_BYTES)
            return
        body = self.store.client().get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            while chunk := body.read(READ_BYTES):
                yield chunk
        finally:
            body.close()

    def delete(self, key: str) -> None:
        if self.folder is not None:
            self.folder.delete(key)
            return
        with contextlib.suppress(ClientError):  # already gone
            self.store.client().delete_object(Bucket=self.bucket, Key=key)


def _fill(source: Source, buffer: memoryview) -> int:
    """Read until ``buffer`` is full or the source ends; how many bytes."""
    filled = 0
    while filled < len(buffer) and (got := source.readinto(buffer[filled:])):
        filled += got
    return filled
