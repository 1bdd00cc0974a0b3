"""The image store: a bucket of Dockyard's own in the object store, content-addressed.

Image data streams in (``put``) to a temporary key in parts while its md5 (Glance's
``checksum``) and sha512 (``os_hash_value``) are computed, then moves to ``sha512/<hex>``;
memory use stays at one part whatever the image's size. Blocking: call from a worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from dockyard.objectstore import SYSTEM_ACCOUNT, ObjectStore

BUCKET = "images"
PART_BYTES = 5 * 1024 * 1024  # S3 wants 5 MiB or more but the last
READ_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    checksum: str  # md5
    os_hash_value: str  # sha512


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
        """Store a stream of bytes (each part also handed to ``observe``); ValueError if it
        holds more than ``limit`` bytes."""
        client = self.store.client()
        md5, sha512 = hashlib.md5(usedforsecurity=False), hashlib.sha512()
        incoming = f"incoming/{uuid.uuid4()}"
        upload = client.create_multipart_upload(Bucket=self.bucket, Key=incoming)["UploadId"]
        parts: list[dict[str, Any]] = []
        size = 0
        try:
            for part in _parts(chunks, empty=True):
                size += len(part)
                if limit is not None and size > limit:
                    raise ValueError(f"image data exceeds {limit} bytes")
                md5.update(part)
                sha512.update(part)
                if observe is not None:
                    observe(part)
                number = len(parts) + 1
                answer = client.upload_part(
                    Bucket=self.bucket, Key=incoming, UploadId=upload, PartNumber=number, Body=part
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            if not parts:  # an empty image: one empty part
                answer = client.upload_part(
                    Bucket=self.bucket, Key=incoming, UploadId=upload, PartNumber=1, Body=b""
                )
                parts.append({"PartNumber": 1, "ETag": answer["ETag"]})
            client.complete_multipart_upload(
                Bucket=self.bucket, Key=incoming, UploadId=upload, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            client.abort_multipart_upload(Bucket=self.bucket, Key=incoming, UploadId=upload)
            raise
        key = f"sha512/{sha512.hexdigest()}"
        try:
            client.copy_object(
                Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": incoming}
            )
        finally:
            client.delete_object(Bucket=self.bucket, Key=incoming)
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
        buffer += chunk
        while len(buffer) >= PART_BYTES:
            part = bytes(buffer[:PART_BYTES])
            del buffer[:PART_BYTES]
            yield part
    if buffer or (empty and total == 0):
        yield bytes(buffer)
