"""What one control-plane process holds for the whole of its life: the store, the keys, the
page-token secret and the action tables. Built once at start-up, shared by every request."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Engine, insert, select

from dockyard.agent_channel.notifier import Notifier
from dockyard.context import Identity, RequestContext
from dockyard.errors import UnrecognizedClientException
from dockyard.identity.keys import DEFAULT_ACCOUNT_ID, AccessKey, find_key
from dockyard.protocol.dispatch import Action, build_actions, not_implemented
from dockyard.protocol.models import service_model
from dockyard.protocol.validate import ShapeValidator
from dockyard.store.db import transaction
from dockyard.store.pagination import PageTokens
from dockyard.store.schema import server_settings

T = TypeVar("T")

# A revoked key stops working within this many seconds on every replica.
KEY_CACHE_SECONDS = 1.0


@dataclass
class ServerState:
    engine: Engine
    providers: dict[str, Iterable[ModuleType]]
    verify_signatures: bool = True
    public_url: str = "http://127.0.0.1:5566"
    default_account_id: str = DEFAULT_ACCOUNT_ID
    tokens: PageTokens = field(init=False)
    validator: ShapeValidator = field(default_factory=ShapeValidator)
    notifier: Notifier = field(default_factory=Notifier)
    _actions: dict[str, dict[str, Action]] = field(default_factory=dict)
    _keys: dict[str, tuple[float, AccessKey | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tokens = PageTokens(self._server_secret("page_token_secret"))
        for service, modules in self.providers.items():
            self._actions[service] = build_actions(service_model(service), modules)

    def _server_secret(self, name: str) -> bytes:
        with transaction(self.engine) as connection:
            value = connection.execute(
                select(server_settings.c.value).where(server_settings.c.name == name)
            ).scalar()
            if value is None:
                value = secrets.token_hex(32)
                connection.execute(insert(server_settings).values(name=name, value=value))
        return bytes.fromhex(value)

    def target_prefix(self, service: str) -> str:
        return str(service_model(service).metadata["targetPrefix"])

    def access_key(self, access_key_id: str) -> AccessKey:
        """The active key with this id (cached briefly); UnrecognizedClient if none."""
        now = time.monotonic()
        cached = self._keys.get(access_key_id)
        if cached is None or cached[0] < now:
            with transaction(self.engine, write=False) as connection:
                key = find_key(connection, access_key_id)
            cached = (now + KEY_CACHE_SECONDS, key)
            self._keys[access_key_id] = cached
        key = cached[1]
        if key is None or key.status != "Active":
            raise UnrecognizedClientException("The security token included in the request is invalid.")
        return key

    def unverified_identity(self, headers: dict[str, str]) -> tuple[Identity, str]:
        """With verification off: any caller is the default account, region from the scope."""
        region = "us-east-1"
        credential = headers.get("authorization", "").partition("Credential=")[2]
        scope = credential.split(",")[0].split("/")
        if len(scope) == 5:
            region = scope[2]
        key_id = scope[0] if scope[0] else "anonymous"
        return Identity(key_id, self.default_account_id, "admin"), region

    async def run_blocking(self, function: Callable[..., T], *args: Any) -> T:
        """Run store work off the event loop when the store is a network database.

        SQLite answers in microseconds and serializes writers anyway, so a thread hop would
        cost more than it saves; PostgreSQL round trips must not stall the loop.
        """
        if self.engine.dialect.name == "sqlite":
            return function(*args)
        return await anyio.to_thread.run_sync(function, *args)

    def in_transaction(
        self, identity: Identity, region: str, function: Callable[[RequestContext], T], *, write: bool = True
    ) -> T:
        """Run ``function`` as ``identity`` in one transaction (for work outside the API path)."""
        ctx = RequestContext(
            request_id=str(uuid.uuid4()),
            service="ecs",
            server=self,
            identity=identity,
            region=region,
            now=time.time(),
        )
        with transaction(self.engine, write=write) as connection:
            ctx.connection = connection
            result = function(ctx)
            for hook in ctx.before_commit:
                hook()
        for hook in ctx.after_commit:
            hook()
        return result

    def dispatch(self, ctx: RequestContext) -> Any:
        """Run the operation's domain method inside one transaction."""
        assert ctx.operation is not None
        action = self._actions[ctx.service].get(ctx.operation.name)
        if action is None:
            raise not_implemented(ctx.operation.name)
        with transaction(self.engine, write=action.writes) as connection:
            ctx.connection = connection
            try:
                result = action(ctx)
                for hook in ctx.before_commit:
                    hook()
            finally:
                ctx.connection = None
        for hook in ctx.after_commit:
            hook()
        return result
