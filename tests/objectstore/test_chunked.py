"""aws-chunked bodies: decoded piece by piece, chunk signatures checked (AWS's own example)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from dockyard.objectstore.chunked import ChunkSignatures, decode, signing_key
from dockyard.objectstore.errors import S3Error

# The example of AWS's "Signature Calculations for the Authorization Header: Transferring Payload
# in Multiple Chunks": 65 KiB of "a" in a 64 KiB chunk, a 1 KiB chunk and the final one.
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EXAMPLE_SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
EXAMPLE_CHUNKS = [
    (65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
    (1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
    (0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"),
]


def example_signatures() -> ChunkSignatures:
    key = signing_key(EXAMPLE_SECRET, "20130524", "us-east-1", "s3")
    return ChunkSignatures(key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", EXAMPLE_SEED)


def example_body(signatures: list[str] | None = None) -> bytes:
    body = b""
    claims = signatures or [signature for _, signature in EXAMPLE_CHUNKS]
    for (size, _), claimed in zip(EXAMPLE_CHUNKS, claims, strict=True):
        body += f"{size:x};chunk-signature={claimed}\r\n".encode() + b"a" * size + b"\r\n"
    return body


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def decoded(data: bytes, signatures: ChunkSignatures | None, piece_size: int = 7) -> bytes:
    async def collect() -> bytes:
        return b"".join([piece async for piece in decode(pieces(data, piece_size), signatures)])

    return asyncio.run(collect())


@pytest.mark.parametrize("piece_size", [1, 7, 65536, 1 << 20], ids=["bytes", "small", "chunk", "whole"])
def test_aws_example_decodes_and_its_signatures_check_however_it_arrives(piece_size: int) -> None:
    assert decoded(example_body(), example_signatures(), piece_size) == b"a" * 66560


def test_a_chunk_with_a_wrong_signature_is_refused() -> None:
    wrong = [s for _, s in EXAMPLE_CHUNKS]
    wrong[1] = "0" * 64
    with pytest.raises(S3Error) as raised:
        decoded(example_body(wrong), example_signatures())
    assert raised.value.code == "SignatureDoesNotMatch"


def test_an_unsigned_body_with_a_trailing_checksum_decodes() -> None:
    body = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"
    assert decoded(body, None) == b"hello world"


@pytest.mark.parametrize(
    "body",
    [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhel", b"3\r\nhello\r\n0\r\n\r\n", b"5\r\nhello\r\n"],
    ids=["bad size", "cut short", "data longer than its size", "no final chunk"],
)
def test_bad_framing_is_an_incomplete_body(body: bytes) -> None:
    with pytest.raises(S3Error) as raised:
        decoded(body, None)
    assert raised.value.code == "IncompleteBody"


def test_a_signed_body_without_chunk_signatures_is_refused() -> None:
    with pytest.raises(S3Error) as raised:
        decoded(b"5\r\nhello\r\n0\r\n\r\n", example_signatures())
    assert raised.value.code == "IncompleteBody"
