"""The console's way into ECS: an action called exactly as the API calls it.

Every read and every action of the console names an ECS operation and its parameters (the
wire's camelCase members); the call walks the API's own steps after authentication (list
limits, validation against botocore's input shape) and runs the operation's domain method
through ``ServerState.dispatch``, in one transaction. So the console can never do what the
API would refuse, and its errors are ECS's own (``ApiError`` with the ECS code and message).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread

from dockyard.context import Identity, RequestContext
from dockyard.errors import UnknownOperationException
from dockyard.protocol.http import HttpRequest
from dockyard.protocol.models import operation
from dockyard.protocol.pipeline import check_list_limits, validate_params
from dockyard.server_state import ServerState

T = TypeVar("T")

# The steps after authentication and parsing take no HTTP of their own.
_NO_HTTP = HttpRequest(method="POST", path="/", query="", headers={}, body=b"")
_READS = ("Describe", "List", "Get")


class Ecs:
    """ECS as one signed-in user sees it: ``await ecs("DescribeClusters", clusters=[...])``;
    with ``service="iot"``, the IoT control plane (its jobs) the same way."""

    def __init__(self, server: ServerState, identity: Identity, region: str, service: str = "ecs") -> None:
        self.server = server
        self.identity = identity
        self.region = region
        self.service = service

    async def __call__(self, operation_name: str, **params: Any) -> dict[str, Any]:
        found = operation(self.service, operation_name)
        if found is None:
            raise UnknownOperationException(f"Unknown operation {operation_name!r}")
        ctx = RequestContext(
            request_id=str(uuid.uuid4()),
            service=self.service,
            server=self.server,
            operation=found,
            identity=self.identity,
            region=self.region,
            params={name: value for name, value in params.items() if value is not None},
            now=time.time(),
        )
        check_list_limits(ctx, _NO_HTTP)
        validate_params(ctx, _NO_HTTP)
        # A page's reads name dozens of items: a worker thread, as the API's heavy reads take
        # (endpoint._heavy_read), keeps the loop serving meanwhile; a write on SQLite joins the
        # loop's group commit.
        if self.server.group_commit is not None and not operation_name.startswith(_READS):
            result = await self.server.dispatch_inline(ctx)
        else:
            result = await anyio.to_thread.run_sync(self.server.dispatch, ctx)
        return dict(result)

    async def read(self, function: Callable[[RequestContext], T]) -> T:
        """A domain read that is no ECS action (a task's logs), in a transaction as this user."""
        return await self.server.transact(self.identity, self.region, function, write=False)
