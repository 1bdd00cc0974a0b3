"""The control plane's ASGI application: every protocol front-end on one port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute

from dockyard import ecs
from dockyard.agent_channel import agent_update
from dockyard.agent_channel.endpoint import AgentSocket
from dockyard.agent_channel.http_endpoints import agent_package_endpoint, logs_endpoint
from dockyard.controllers import janitor
from dockyard.protocol.endpoint import AwsJsonEndpoint
from dockyard.server_state import ServerState


async def health(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def build_app(server: ServerState) -> Starlette:
    routes = [
        Route("/", AwsJsonEndpoint(server, "ecs"), methods=["POST"]),
        Route("/_dockyard/health", health, methods=["GET"]),
        WebSocketRoute("/ws", AgentSocket(server).handle),
        Route("/_dockyard/logs/{task_id:path}", logs_endpoint(server), methods=["GET"]),
        Route(agent_update.PACKAGE_PATH, agent_package_endpoint(server), methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=_controllers(server))


def _controllers(server: ServerState):  # type: ignore[no-untyped-def]
    """Start the background controllers with the server and stop them with it."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        running = [asyncio.create_task(janitor.run(server.engine))]
        try:
            yield
        finally:
            for task in running:
                task.cancel()

    return lifespan


def build_server_state(
    engine: Engine, *, public_url: str, verify_signatures: bool = True, default_account_id: str | None = None
) -> ServerState:
    state = ServerState(
        engine=engine,
        providers={"ecs": ecs.provider()},
        public_url=public_url,
        verify_signatures=verify_signatures,
    )
    if default_account_id:
        state.default_account_id = default_account_id
    return state
