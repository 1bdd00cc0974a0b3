"""Who sent an HTTP request: the SigV4 check shared by every front-end of the control plane."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dockyard.context import Identity
from dockyard.errors import AccessDeniedException
from dockyard.identity.sigv4 import (
    SignedRequest,
    check_clock,
    check_scope,
    parse_authorization,
    verify_signature,
)

if TYPE_CHECKING:
    from dockyard.identity.keys import AccessKey
    from dockyard.server_state import ServerState

DEVICE_SERVICE = "iot-jobs-data"  # the one API a device key (bound to a thing) may call


def authenticate(
    server: ServerState,
    *,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    now: float | None = None,
    service: str = "ecs",
    screened: SignedRequest | None = None,
) -> tuple[Identity, str]:
    """The signer's identity and the region of the credential scope; raises the AWS error.

    ``service`` is the signing name the scope must carry (every endpoint of the control plane
    is signed as ECS: the API, the agent socket, the logs). ``screened`` is the Authorization
    header as ``pipeline.screen`` already parsed and checked it (scope and clock)."""
    if not server.verify_signatures:
        return server.unverified_identity(headers)
    signed = screened
    if signed is None:
        signed = parse_authorization(headers)
        check_scope(signed, headers, service)
        check_clock(signed, time.time() if now is None else now)
    key = usable_key(server, signed.access_key_id, service)
    verify_signature(
        signed, key.secret_access_key, method=method, path=path, query=query, headers=headers, body=body
    )
    return Identity(key.access_key_id, key.account_id, key.user_name, key.thing_name), signed.region


def usable_key(server: ServerState, access_key_id: str, service: str) -> AccessKey:
    """The active key with this id, if it may be used for ``service``: a device key (an
    agent's, bound to its thing) is good for the IoT Jobs data plane only."""
    key = server.access_key(access_key_id)
    if key.thing_name is not None and service != DEVICE_SERVICE:
        raise AccessDeniedException(
            f"The key {access_key_id} belongs to thing {key.thing_name}: "
            "it may only call the IoT Jobs data plane."
        )
    return key


def authenticate_get(server: ServerState, scope: Mapping[str, Any]) -> tuple[Identity, str]:
    """``authenticate`` for a bodiless GET (or WebSocket upgrade) given as its ASGI scope."""
    return authenticate(
        server,
        method="GET",
        path=scope["path"],
        query=scope["query_string"].decode("latin-1"),
        headers={name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]},
        body=b"",
    )
