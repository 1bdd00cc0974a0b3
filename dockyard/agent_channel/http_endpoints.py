"""Plain HTTP endpoints for agents and the CLI (SigV4-signed): container logs, the agent package."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from dockyard.agent.version import AGENT_VERSION
from dockyard.agent_channel import agent_update, logs
from dockyard.errors import ApiError
from dockyard.identity.authenticate import authenticate_get
from dockyard.server_state import ServerState


def logs_endpoint(server: ServerState):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        task_id = request.path_params["task_id"].rsplit("/", 1)[-1]
        container = request.query_params.get("container")
        try:
            identity, region = authenticate_get(server, request.scope)
            lines = await server.transact(
                identity, region, lambda ctx: logs.read(ctx, task_id, container), write=False
            )
        except ApiError as error:
            return JSONResponse({"__type": error.code, "message": error.message}, status_code=error.status)
        text = (
            "".join(
                f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(at))} {name} {line}\n"
                for at, name, line in lines
            )
            if request.query_params.get("timestamps")
            else "".join((f"{name} | {line}\n" if not container else f"{line}\n") for _, name, line in lines)
        )
        return PlainTextResponse(text)

    return endpoint


def agent_package_endpoint(server: ServerState):  # type: ignore[no-untyped-def]
    """``GET /_dockyard/agent/package``: the agent code this control plane offers (signed)."""

    async def endpoint(request: Request) -> Response:
        try:
            authenticate_get(server, request.scope)
        except ApiError as error:
            return JSONResponse({"__type": error.code, "message": error.message}, status_code=error.status)
        return Response(
            agent_update.package(),
            media_type="application/gzip",
            headers={"x-dockyard-agent-version": AGENT_VERSION},
        )

    return endpoint
