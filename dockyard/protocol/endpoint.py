"""The ASGI endpoint of the AWS JSON protocol: bytes in, one pipeline walk, bytes out."""

from __future__ import annotations

from typing import Any

import anyio.to_thread

from dockyard.errors import RequestEntityTooLargeException
from dockyard.protocol.http import HttpRequest, HttpResponse
from dockyard.protocol.pipeline import handle, handle_inline, refuse, screen
from dockyard.server_state import ServerState

# The largest request body taken (a task definition, the largest ECS request, is 64 KiB of
# JSON at most); a longer one is refused from its Content-Length or as soon as it grows past.
MAX_BODY_BYTES = 1024 * 1024


class AwsJsonEndpoint:
    """``POST /`` with ``X-Amz-Target``; runs the request path for ``service``."""

    def __init__(self, server: ServerState, service: str) -> None:
        self.server = server
        self.service = service
        # SQLite answers in microseconds and serializes writers anyway: calling it on the event
        # loop is cheaper than a thread hop, and its writes share commits (store/group_commit).
        # A network database gets worker threads.
        self.inline = server.engine.dialect.name == "sqlite"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        refused, signed = screen(self.server, self.service, headers)
        if refused is None and not _length_allowed(headers.get("content-length")):
            refused = refuse(self.server, self.service, _too_large())
        if refused is not None:
            await _send(send, refused, close=True)
            return
        body = await _read_body(receive)
        if body is _DISCONNECTED:  # the client left (or was cut off) before its body was whole
            return
        if body is None:
            await _send(send, refuse(self.server, self.service, _too_large()), close=True)
            return
        http = HttpRequest(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode("latin-1"),
            headers=headers,
            body=body,
            signed=signed,
        )
        if self.inline and not _heavy_read(headers, body):
            offload = len(body) > _LARGE_BODY_BYTES
            response = await handle_inline(self.server, self.service, http, offload=offload)
        else:
            response = await anyio.to_thread.run_sync(handle, self.server, self.service, http)
        await _send(send, response)

    def answer_now(self, headers: dict[str, str], body: bytes) -> HttpResponse | None:
        """The response to a whole request, computed on the spot, when it is a small read on
        SQLite (``connections`` then writes it without the ASGI machinery); None for any other
        request, which then takes the ASGI path (``__call__``) with the same head and body."""
        if not (self.inline and _light_read(headers, body)):
            return None
        refused, signed = screen(self.server, self.service, headers)
        if refused is not None:
            return refused
        http = HttpRequest(method="POST", path="/", query="", headers=headers, body=body, signed=signed)
        return handle(self.server, self.service, http)


# A read that names many items (or filters with the query language) may take tens of
# milliseconds: it runs on a worker thread even on SQLite, so the event loop keeps serving
# everyone else meanwhile (a read needs none of the group commit's ordering). A few items (up
# to ~20 ARNs) take well under a millisecond: the hop to a thread would cost more than they do.
_HEAVY_BODY_BYTES = 2048
# A write this large (a task definition near its 64 KiB) is checked, parsed, validated and
# answered on a worker thread, and only its store work joins the group commit on the loop.
_LARGE_BODY_BYTES = 8 * 1024
_READ_PREFIXES = ("Describe", "List", "Get")


def _heavy_read(headers: dict[str, str], body: bytes) -> bool:
    if not _is_read(headers):
        return False
    return len(body) > _HEAVY_BODY_BYTES or b'"filter"' in body


def _light_read(headers: dict[str, str], body: bytes) -> bool:
    small = len(body) <= _HEAVY_BODY_BYTES and _length_allowed(headers.get("content-length"))
    return small and _is_read(headers) and b'"filter"' not in body


def _is_read(headers: dict[str, str]) -> bool:
    target = headers.get("x-amz-target", "")
    return target.rpartition(".")[2].startswith(_READ_PREFIXES)  # <targetPrefix>.<Operation>


def _length_allowed(declared: str | None) -> bool:
    return declared is None or (declared.isdigit() and len(declared) < 12 and int(declared) <= MAX_BODY_BYTES)


def _too_large() -> RequestEntityTooLargeException:
    return RequestEntityTooLargeException(f"The request body is larger than {MAX_BODY_BYTES} bytes.")


_DISCONNECTED = b"\0disconnected"  # a marker compared by identity, never a body


async def _read_body(receive: Any) -> bytes | None:
    """The body, its chunks joined once (linear in its size); None past MAX_BODY_BYTES,
    ``_DISCONNECTED`` when the connection ended before the body did."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return _DISCONNECTED
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send(send: Any, response: HttpResponse, *, close: bool = False) -> None:
    headers = [(name.encode(), value.encode()) for name, value in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    if close:  # the rest of the body is never read: the connection cannot carry another request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
