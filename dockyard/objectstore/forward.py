"""The gateway's side toward the backing store: requests re-signed with the store's keys and
sent with their bodies streamed both ways (httpx over a pool of keep-alive connections).

A body the client signed (``x-amz-content-sha256`` a digest) goes on with the same digest, and
the gateway hashes it too, holding back its last piece until the digest matches: a body that
does not match never reaches the store whole (the connection is dropped short of its length).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from dockyard.objectstore.errors import S3Error
from dockyard.objectstore.store import ObjectStore

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# Headers of the client's request that are not passed on (hop-by-hop, or the client's signature).
_NOT_FORWARDED = frozenset(
    {
        "host",
        "authorization",
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-content-sha256",
        "x-amz-decoded-content-length",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "expect",
        "te",
        "upgrade",
        "proxy-authorization",
        "user-agent",
        "accept-encoding",
    }
)
# Headers of the store's response that are not passed back (the gateway's server sets its own).
RESPONSE_DROPPED = frozenset({"connection", "keep-alive", "transfer-encoding", "server", "date"})


class _S3Signer(SigV4Auth):  # type: ignore[misc]
    """SigV4 as S3 wants it: the path as sent, the payload digest from the header."""

    def _normalize_url_path(self, path: str) -> str:
        return path


def forwarded_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name not in _NOT_FORWARDED}


class BodyMismatch(Exception):
    """The body's SHA-256 is not the one the client signed."""


async def verified(body: AsyncIterator[bytes], expected: str) -> AsyncIterator[bytes]:
    """``body``, whose last piece is only given once the whole hashes to ``expected``."""
    digest = hashlib.sha256()
    held: bytes | None = None
    async for piece in body:
        if not piece:
            continue
        digest.update(piece)
        if held is not None:
            yield held
        held = piece
    if not hmac.compare_digest(digest.hexdigest(), expected):
        raise BodyMismatch()
    if held is not None:
        yield held


def content_mismatch() -> S3Error:
    return S3Error(
        "XAmzContentSHA256Mismatch",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )


class Upstream:
    """Sends signed requests to the backing store (one per gateway; made on the event loop)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._client: httpx.AsyncClient | None = None
        self._signer = _S3Signer(
            Credentials(store.access_key_id, store.secret_access_key), "s3", store.region
        )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                headers={"accept-encoding": "identity"},
                timeout=httpx.Timeout(connect=10.0, read=300.0, write=300.0, pool=30.0),
                limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
            )
        return self._client

    def sign(self, method: str, url: str, headers: dict[str, str], payload_hash: str) -> dict[str, str]:
        request = AWSRequest(
            method=method, url=url, headers={**headers, "X-Amz-Content-SHA256": payload_hash}
        )
        self._signer.add_auth(request)
        return dict(request.headers.items())

    async def send(
        self,
        method: str,
        path_and_query: str,
        headers: dict[str, str],
        *,
        payload_hash: str = UNSIGNED_PAYLOAD,
        body: AsyncIterator[bytes] | bytes | None = None,
    ) -> httpx.Response:
        """The store's response to ``method path_and_query``, its body not read yet (the caller
        streams it and must ``aclose`` it)."""
        await self.store.ready()
        url = self.store.endpoint() + path_and_query
        signed = self.sign(method, url, headers, payload_hash)
        request = self._http().build_request(method, url, headers=signed, content=body)
        return await self._http().send(request, stream=True)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def __repr__(self) -> str:  # never show the keys
        return f"Upstream({self.store.settings!r})"


def response_headers(response: Any) -> list[tuple[bytes, bytes]]:
    return [
        (name.lower(), value)
        for name, value in response.headers.raw
        if name.lower().decode("latin-1") not in RESPONSE_DROPPED
    ]
