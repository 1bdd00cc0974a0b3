"""The control plane's ASGI application: every protocol front-end on one port."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from dockyard import batch, console, ecs, iot
from dockyard.agent_channel import agent_update
from dockyard.agent_channel.endpoint import AgentSocket
from dockyard.agent_channel.http_endpoints import agent_package_endpoint, logs_endpoint
from dockyard.controllers import janitor
from dockyard.ecs.request_limits import LIST_LIMITS
from dockyard.ecs.services.controller import ServiceController
from dockyard.glance import api as glance
from dockyard.glance import distribution
from dockyard.glance.api import GlanceApi
from dockyard.glance.importer import ImportWorker
from dockyard.glance.pusher import LoadPusher
from dockyard.identity.sealing import Sealer
from dockyard.jobs.controller import JobController
from dockyard.keystone.api import Keystone
from dockyard.objectstore import ObjectStore, ObjectStoreSettings
from dockyard.objectstore.gateway import S3Gateway
from dockyard.protocol.endpoint import AwsJsonEndpoint
from dockyard.protocol.http import HttpResponse
from dockyard.protocol.rest.endpoint import RestEndpoint
from dockyard.server_state import ServerState


async def health(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def controllers_endpoint(server: ServerState) -> Any:
    """What this process's controllers did (counts only: nothing of any account)."""

    async def controllers(_request: Request) -> JSONResponse:
        return JSONResponse(server.controllers.stats())

    return controllers


class FrontDoor:
    """The ASGI application: ``POST /`` (every AWS JSON call) goes straight to its endpoint,
    a request signed for a REST service (IoT) to that front-end, everything else (agent
    socket, logs, health, lifespan) through Starlette's routing.

    The API is the hot path, and Starlette's middleware stack and route matching cost about
    as much per request as the SQL of a DescribeClusters; the endpoint never raises (every
    error is an AWS error response), so it needs none of that stack.
    """

    def __init__(self, api: AwsJsonEndpoint, rest: RestEndpoint, app: Starlette, objects: S3Gateway) -> None:
        self.api = api
        self.rest = rest
        self.app = app
        self.objects = objects

    def answer_now(self, headers: dict[str, str], body: bytes) -> HttpResponse | None:
        """A whole ``POST /`` answered on the spot, if it can be: the connection's short cut
        for small reads (``protocol/connections.py``); None sends it through ``__call__``."""
        return self.api.answer_now(headers, body)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] == "POST":
            await self.api(scope, receive, send)
        elif scope["type"] == "http" and (front := self.rest.front_for(scope)) is not None:
            await self.rest(scope, receive, send, front)
        elif scope["type"] == "http" and self.objects.claims(scope):  # S3 Control went to rest above
            await self.objects(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def build_app(server: ServerState) -> FrontDoor:
    api = AwsJsonEndpoint(server, "ecs")
    routes = [
        Route("/", api, methods=["POST"]),  # POST / never gets here; other methods get a 405
        Route("/_dockyard/health", health, methods=["GET"]),
        Route("/_dockyard/controllers", controllers_endpoint(server), methods=["GET"]),
        WebSocketRoute("/ws", AgentSocket(server).handle),
        Route("/_dockyard/logs/{task_id:path}", logs_endpoint(server), methods=["GET"]),
        Route(agent_update.PACKAGE_PATH, agent_package_endpoint(server), methods=["GET"]),
        console.routes(server),
        *glance_routes(server),
    ]
    objects = S3Gateway(server)
    return FrontDoor(
        api,
        RestEndpoint(server, [*iot.front_ends(), *batch.front_ends()]),
        Starlette(routes=routes, lifespan=_controllers(server, objects)),
        objects,
    )


def glance_routes(server: ServerState) -> list[BaseRoute]:
    """Glance v2 under ``/image`` and the Keystone v3 it takes tokens from under ``/identity``."""
    keystone = Keystone(server)
    images = GlanceApi(server, keystone)
    return [
        keystone.routes(),
        Route(glance.PREFIX, images),
        Mount(glance.PREFIX, app=images),
        Route(distribution.PATH, distribution.endpoint(server, images.uploads), methods=["GET"]),
    ]


def _controllers(server: ServerState, objects: S3Gateway):  # type: ignore[no-untyped-def]
    """Start the background controllers with the server and stop them with it."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        runtime = server.controllers
        runtime.add(server.hub)
        runtime.add(janitor.Janitor(server))
        runtime.add(ServiceController(server))
        runtime.add(JobController(server))
        runtime.add(ImportWorker(server))
        runtime.add(LoadPusher(server))  # glance: images to the Docker hosts connected here
        runtime.start()
        try:
            yield
        finally:
            await runtime.stop()
            await objects.aclose()
            await anyio.to_thread.run_sync(server.object_store.close)

    return lifespan


def build_server_state(
    engine: Engine,
    *,
    public_url: str,
    sealer: Sealer,
    verify_signatures: bool = True,
    default_account_id: str | None = None,
    object_store: ObjectStoreSettings | None = None,
) -> ServerState:
    state = ServerState(
        engine=engine,
        sealer=sealer,
        providers={
            "ecs": ecs.provider(),
            "iot": iot.provider(),
            "iot-jobs-data": iot.data_provider(),
            "s3control": batch.provider(),
        },
        public_url=public_url,
        verify_signatures=verify_signatures,
        list_limits={"ecs": LIST_LIMITS},
    )
    if default_account_id:
        state.default_account_id = default_account_id
    if object_store is not None:
        state.object_store = ObjectStore(object_store, state.run_in_store)
    return state
