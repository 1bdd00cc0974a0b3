"""The ASGI endpoint of the AWS JSON protocol: bytes in, one pipeline walk, bytes out."""

from __future__ import annotations

from typing import Any

import anyio.to_thread

from dockyard.protocol.http import HttpRequest, HttpResponse
from dockyard.protocol.pipeline import handle, handle_inline
from dockyard.server_state import ServerState


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
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        http = HttpRequest(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode("latin-1"),
            headers={name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]},
            body=body,
        )
        if self.inline:
            response = await handle_inline(self.server, self.service, http)
        else:
            response = await anyio.to_thread.run_sync(handle, self.server, self.service, http)
        await _send(send, response)


async def _send(send: Any, response: HttpResponse) -> None:
    headers = [(name.encode(), value.encode()) for name, value in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
