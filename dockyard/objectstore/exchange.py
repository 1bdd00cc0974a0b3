"""One S3 request and its response in ASGI terms, for the gateway: the path split into bucket
and key as sent, the body read in pieces, and responses (whole, XML, streamed, errors)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import httpx

from dockyard.objectstore import presign
from dockyard.objectstore.errors import S3Error
from dockyard.objectstore.forward import response_headers

_SMALL_BODY = 1 << 16  # a CreateBucket configuration, at most
_PIECE = 1 << 20  # request bodies go on in pieces of about this size


class ClientGone(Exception):
    """The client disconnected before its request body was read."""


class Exchange:
    """One request and its response, in ASGI terms."""

    def __init__(self, scope: dict[str, Any], receive: Any, send: Any, request_id: str) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.request_id = request_id
        self.started = False
        self.method: str = scope["method"]
        self.headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        raw_path = scope.get("raw_path")
        self.raw_path = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
        self.query_string: str = scope["query_string"].decode("latin-1")

    def bucket_and_rest(self) -> tuple[str, str]:
        """The bucket (decoded) and the rest of the path as sent (``/key``, ``/`` or empty)."""
        path = self.raw_path.split("?", 1)[0]
        first, slash, rest = path[1:].partition("/")
        return unquote(first), slash + rest

    def query_names(self) -> set[str]:
        names = {name for name, _ in parse_qsl(self.query_string, keep_blank_values=True)}
        return names - presign.AUTH_PARAMETERS - presign.V2_PARAMETERS

    async def body(self) -> AsyncIterator[bytes]:
        """The request body in pieces of about ``_PIECE`` bytes (what the server reads from the
        socket is smaller: passing each on would cost the forward more per byte)."""
        pending: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            if chunk:
                pending.append(chunk)
                size += len(chunk)
            if pending and (size >= _PIECE or not more):
                yield pending[0] if len(pending) == 1 else b"".join(pending)
                pending, size = [], 0
            if not more:
                return

    async def read_small_body(self) -> bytes:
        data = bytearray()
        async for chunk in self.body():
            data.extend(chunk)
            if len(data) > _SMALL_BODY:
                raise S3Error("MaxMessageLengthExceeded", "Your request was too big.")
        return bytes(data)

    async def respond(
        self, status: int, headers: list[tuple[bytes, bytes]] | None = None, body: bytes = b""
    ) -> None:
        chosen = [(name, value) for name, value in headers or [] if name != b"content-length"]
        chosen.append((b"x-amz-request-id", self.request_id.encode()))
        chosen.append((b"content-length", str(len(body)).encode()))
        self.started = True
        await self.send({"type": "http.response.start", "status": status, "headers": chosen})
        await self.send({"type": "http.response.body", "body": b"" if self.method == "HEAD" else body})

    async def xml(self, status: int, document: str) -> None:
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + document).encode()
        await self.respond(status, [(b"content-type", b"application/xml")], body)

    async def stream(self, response: httpx.Response) -> None:
        headers = response_headers(response)
        status = response.status_code
        if "content-range" in response.headers:
            # A range is a 206 (rclone says 200), and a whole object's checksum describes no
            # range of it (S3 sends none with a range; SDKs that validate would fail on it).
            status = 206 if status == 200 else status
            headers = [(name, value) for name, value in headers if not name.startswith(b"x-amz-checksum-")]
        headers.append((b"x-amz-request-id", self.request_id.encode()))
        self.started = True
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        if self.method != "HEAD":
            async for chunk in response.aiter_raw():
                await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
        await self.send({"type": "http.response.body", "body": b""})

    async def error(self, error: S3Error) -> None:
        if self.started:
            return  # the status line went out already: the client sees a cut-short body
        await self.respond(error.status, [(b"content-type", b"application/xml")], error.xml(self.request_id))
