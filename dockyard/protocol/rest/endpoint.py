"""The ASGI entry of the REST front-ends: the SigV4 scope's service picks the front-end.

IoT's control plane and its jobs data plane both have ``GET /things/{thingName}/jobs``: what
tells them apart is the service the request was signed for (boto3 signs with the model's
``signingName``), never the path or the Host. A request signed for ``iot`` only ever reaches
the ``iot`` router, and the signature check then holds it to that scope.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from dockyard.protocol.endpoint import _DISCONNECTED, _length_allowed, _read_body, _send, _too_large
from dockyard.protocol.http import HttpRequest
from dockyard.protocol.models import signing_name
from dockyard.protocol.rest.pipeline import RestFrontEnd, error_response, handle, new_context
from dockyard.server_state import ServerState


def scope_service(scope: dict[str, Any]) -> str | None:
    """The service of a SigV4 ``Authorization`` header's credential scope, if there is one."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            credential = value.partition(b"Credential=")[2].split(b",", 1)[0].split(b"/")
            return credential[3].decode("latin-1") if len(credential) == 5 else None
    return None


class RestEndpoint:
    """Every REST front-end of the control plane, by the signing name of its service."""

    def __init__(self, server: ServerState, fronts: list[RestFrontEnd]) -> None:
        self.server = server
        self.fronts = {signing_name(front.service): front for front in fronts}
        self.inline = server.engine.dialect.name == "sqlite"

    def front_for(self, scope: dict[str, Any]) -> RestFrontEnd | None:
        """The front-end of the request's signing service; None for the rest of the app (a
        request signed ``s3`` outside ``/v20180820/`` is the S3 gateway's, not S3 Control's)."""
        service = scope_service(scope)
        front = self.fronts.get(service) if service is not None else None
        if front is not None and front.path_prefix and not scope["path"].startswith(front.path_prefix):
            return None
        return front

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any, front: RestFrontEnd) -> None:
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        if not _length_allowed(headers.get("content-length")):
            await _send(send, self._refuse(front, _too_large()), close=True)
            return
        body = await _read_body(receive)
        if body is _DISCONNECTED:
            return
        if body is None:
            await _send(send, self._refuse(front, _too_large()), close=True)
            return
        raw_path = scope.get("raw_path")
        http = HttpRequest(
            method=scope["method"],
            # The path as signed and as labels were encoded: a label may hold an encoded "/".
            path=raw_path.decode("latin-1") if raw_path else quote(scope["path"]),
            query=scope["query_string"].decode("latin-1"),
            headers=headers,
            body=body,
        )
        await _send(send, await handle(self.server, front, http, inline=self.inline))

    def _refuse(self, front: RestFrontEnd, error: Exception) -> Any:
        return error_response(front, new_context(self.server, front.service), error)
