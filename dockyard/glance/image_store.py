"""The image store: a bucket of Dockyard's own in the object store.

Image data streams in (``put``) as a multipart upload under its final key (``images/<uuid>``:
the digest is not known before the end, and a server-side copy to a content address would
write every image twice). The stream is cut into parts and each part goes through a pipeline
of single-thread stages that run side by side (hashlib, pipes and sockets let go of the GIL):
md5 (Glance's ``checksum``), sha512 (``os_hash_value``), the caller's ``observe`` (the archive
check) and the upload itself (two parts at once: the store takes one while it writes the
other), at most ``PARTS_IN_FLIGHT`` parts at once. So memory stays at
a few parts whatever the image's size, and the slowest stage, not their sum, sets the pace.
Images with the same bytes share one object (``images.shared_key``). Blocking: call from a
worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from dockyard.objectstore import SYSTEM_ACCOUNT, ObjectStore

BUCKET = "images"
PART_BYTES = 8 * 1024 * 1024  # S3 wants 5 MiB or more but the last
READ_BYTES = PART_BYTES  # a download read is a part: no regrouping copy
PARTS_IN_FLIGHT = 3
UPLOADS_AT_ONCE = 2


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    checksum: str  # md5
    os_hash_value: str  # sha512


class _Stage:
    """One step applied to every part: in order on a thread of its own, or on ``threads``."""

    def __init__(self, step: Callable[[int, bytes], object], threads: int = 1) -> None:
        self.step = step
        self.pool = ThreadPoolExecutor(max_workers=threads)

    def submit(self, number: int, part: bytes) -> Future[object]:
        return self.pool.submit(self.step, number, part)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class ImageStore:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.bucket = store.backing_bucket(SYSTEM_ACCOUNT, BUCKET)

    async def ready(self) -> None:
        await self.store.ensure_bucket(SYSTEM_ACCOUNT, BUCKET)

    def put(
        self,
        chunks: Iterable[bytes],
        limit: int | None = None,
        observe: Callable[[bytes], object] | None = None,
    ) -> Stored:
        """Store a stream of bytes (each part also handed to ``observe``, in order); ValueError
        if it holds more than ``limit`` bytes."""
        client = self.store.client(bulk=True)
        md5, sha512 = hashlib.md5(usedforsecurity=False), hashlib.sha512()
        key = f"images/{uuid.uuid4()}"
        upload = client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]

        def send(number: int, part: bytes) -> dict[str, Any]:
            answer = client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload, PartNumber=number, Body=part
            )
            return {"PartNumber": number, "ETag": answer["ETag"]}

        stages = [
            _Stage(lambda _, part: md5.update(part)),
            _Stage(lambda _, part: sha512.update(part)),
            # The store takes a part while it writes the one before (rclone buffers it).
            _Stage(send, threads=UPLOADS_AT_ONCE),
        ]
        if observe is not None:
            stages.append(_Stage(lambda _, part: observe(part)))
        in_flight: deque[list[Future[object]]] = deque()
        parts: list[dict[str, Any]] = []
        size = 0

        def settle_oldest() -> None:
            futures = in_flight.popleft()
            for future in futures:
                future.result()  # a stage's error stops the upload
            parts.append(futures[2].result())  # type: ignore[arg-type]

        try:
            for part in _parts(chunks, empty=True):
                size += len(part)
                if limit is not None and size > limit:
                    raise ValueError(f"image data exceeds {limit} bytes")
                while len(in_flight) >= PARTS_IN_FLIGHT:
                    settle_oldest()
                number = len(parts) + len(in_flight) + 1
                in_flight.append([stage.submit(number, part) for stage in stages])
            while in_flight:
                settle_oldest()
            client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            for stage in stages:
                stage.close()
            client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
            raise
        for stage in stages:
            stage.close()
        return Stored(key, size, md5.hexdigest(), sha512.hexdigest())

    def read(self, key: str) -> Iterator[bytes]:
        """The object's bytes, in chunks."""
        body = self.store.client().get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            while chunk := body.read(READ_BYTES):
                yield chunk
        finally:
            body.close()

    def delete(self, key: str) -> None:
        with contextlib.suppress(ClientError):  # already gone
            self.store.client().delete_object(Bucket=self.bucket, Key=key)


def _parts(chunks: Iterable[bytes], *, empty: bool = False) -> Iterator[bytes]:
    """The stream regrouped into parts of PART_BYTES (the last one shorter; one empty part
    for an empty stream if ``empty``: a multipart upload needs a part)."""
    buffer = bytearray()
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if not buffer and len(chunk) == PART_BYTES:  # a whole part as read: no copy
            yield chunk
            continue
        buffer += chunk
        while len(buffer) >= PART_BYTES:
            part = bytes(buffer[:PART_BYTES])
            del buffer[:PART_BYTES]
            yield part
    if buffer or (empty and total == 0):
        yield bytes(buffer)
