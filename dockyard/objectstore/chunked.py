"""``aws-chunked`` request bodies (SigV4 streaming uploads), decoded as they arrive.

Some SDKs send an upload as ``<hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n`` chunks ending
in a zero-size one and optional trailers (a checksum). The gateway forwards only the payload
(the backing store gets a plain body of ``x-amz-decoded-content-length`` bytes), verifying
each chunk's signature on the way when the client signed them; a chunk's data goes on as it
arrives, so memory stays bounded whatever the chunk size.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator

from dockyard.objectstore.errors import S3Error

SIGNED = ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
UNSIGNED = ("STREAMING-UNSIGNED-PAYLOAD-TRAILER",)
_EMPTY_HASH = hashlib.sha256(b"").hexdigest()
_MAX_LINE = 4096


def is_streaming(content_sha256: str) -> bool:
    return content_sha256 in SIGNED or content_sha256 in UNSIGNED


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


class ChunkSignatures:
    """The chain of chunk signatures, seeded by the request's own signature."""

    def __init__(self, key: bytes, amz_date: str, scope: str, seed: str) -> None:
        self.key = key
        self.prefix = f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n"
        self.previous = seed

    def check(self, data_hash: str, claimed: str) -> None:
        text = f"{self.prefix}{self.previous}\n{_EMPTY_HASH}\n{data_hash}"
        expected = hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, claimed):
            raise S3Error(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                403,
            )
        self.previous = expected


def _incomplete(why: str) -> S3Error:
    return S3Error("IncompleteBody", f"The aws-chunked body is malformed: {why}.")


async def decode(body: AsyncIterator[bytes], signatures: ChunkSignatures | None) -> AsyncIterator[bytes]:
    """The payload of an aws-chunked body; raises S3Error on bad framing or a bad signature."""
    buffer = bytearray()
    source = body.__aiter__()

    async def more() -> bool:
        try:
            buffer.extend(await source.__anext__())
        except StopAsyncIteration:
            return False
        return True

    async def line() -> str:
        while (end := buffer.find(b"\r\n")) < 0:
            if len(buffer) > _MAX_LINE or not await more():
                raise _incomplete("a chunk header is cut short")
        text = bytes(buffer[:end]).decode("latin-1")
        del buffer[: end + 2]
        return text

    while True:
        header = await line()
        size_text, _, extension = header.partition(";")
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _incomplete(f"bad chunk size {size_text[:20]!r}") from None
        claimed = extension.partition("chunk-signature=")[2]
        if signatures is not None and not claimed:
            raise _incomplete("a chunk has no signature")
        digest = hashlib.sha256()
        left = size
        while left:
            if not buffer and not await more():
                raise _incomplete("a chunk is cut short")
            piece = bytes(buffer[:left])
            del buffer[: len(piece)]
            left -= len(piece)
            if signatures is not None:
                digest.update(piece)
            yield piece
        if signatures is not None:
            signatures.check(digest.hexdigest(), claimed)
        if size == 0:
            while await line():  # trailers (a checksum), up to the empty line
                pass
            return
        if await line() != "":
            raise _incomplete("a chunk's data is longer than its size")
