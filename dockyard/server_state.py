"""What one control-plane process holds for the whole of its life: the store, the keys, the
page-token secret and the action tables. Built once at start-up, shared by every request."""

from __future__ import annotations

import random
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import DBAPIError

from dockyard.agent_channel.hub import ChannelHub
from dockyard.agent_channel.notifier import Notifier
from dockyard.context import Identity, RequestContext
from dockyard.controllers.runtime import Runtime
from dockyard.errors import UnrecognizedClientException
from dockyard.identity.keys import DEFAULT_ACCOUNT_ID, AccessKey, find_key
from dockyard.identity.sealing import Sealer
from dockyard.objectstore import ObjectStore, ObjectStoreSettings
from dockyard.protocol.dispatch import Action, build_actions, not_implemented
from dockyard.protocol.models import service_model
from dockyard.protocol.validate import ShapeValidator
from dockyard.store.db import transaction
from dockyard.store.group_commit import GroupCommit
from dockyard.store.pagination import PageTokens
from dockyard.store.schema import server_settings

T = TypeVar("T")

# A transaction PostgreSQL rolled back to break a deadlock is run again, up to this many times.
TRANSACTION_ATTEMPTS = 5
_RETRYABLE = {"40P01", "40001"}  # deadlock_detected, serialization_failure


def _retryable(error: DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) in _RETRYABLE

# A revoked key stops working within this many seconds on every replica.
KEY_CACHE_SECONDS = 1.0


@dataclass
class ServerState:
    engine: Engine
    providers: dict[str, Iterable[ModuleType]]
    sealer: Sealer  # opens the stored secret access keys
    verify_signatures: bool = True
    public_url: str = "http://127.0.0.1:5566"
    default_account_id: str = DEFAULT_ACCOUNT_ID
    tokens: PageTokens = field(init=False)
    validator: ShapeValidator = field(default_factory=ShapeValidator)
    # service -> operation -> member path -> most items a list member may hold
    list_limits: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    notifier: Notifier = field(default_factory=Notifier)
    _actions: dict[str, dict[str, Action]] = field(default_factory=dict)
    _keys: dict[str, tuple[float, AccessKey | None]] = field(default_factory=dict)
    # SQLite only: the writes of the event loop, batched into shared commits.
    group_commit: GroupCommit | None = field(init=False, default=None)
    hub: ChannelHub = field(init=False)
    controllers: Runtime = field(init=False)
    # The S3-compatible store (none configured until build_server_state is given settings).
    object_store: ObjectStore = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = PageTokens(self._server_secret("page_token_secret"))
        if self.engine.dialect.name == "sqlite":
            self.group_commit = GroupCommit(self.engine, on_lost=self._forget_derived_state)
        self.hub = ChannelHub(self.run_in_store, check_keys=self.verify_signatures)
        self.controllers = Runtime(self)
        self.object_store = ObjectStore(ObjectStoreSettings(), self.run_in_store)
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

    def server_secret(self, name: str) -> bytes:
        """A random secret of the control plane, made once and shared by every process on the store."""
        return self._server_secret(name)

    def target_prefix(self, service: str) -> str:
        return str(service_model(service).metadata["targetPrefix"])

    def access_key(self, access_key_id: str) -> AccessKey:
        """The active key with this id (cached briefly); UnrecognizedClient if none."""
        now = time.monotonic()
        cached = self._keys.get(access_key_id)
        if cached is None or cached[0] < now:
            with transaction(self.engine, write=False) as connection:
                key = find_key(connection, access_key_id, self.sealer)
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

    def _forget_derived_state(self) -> None:
        """A batch of writes was lost at commit: drop what was derived from them in memory."""
        from dockyard.ecs import placement_cache

        placement_cache.forget(self.engine)

    async def transact(
        self,
        identity: Identity,
        region: str,
        function: Callable[[RequestContext], T],
        *,
        write: bool = True,
    ) -> T:
        """``in_transaction`` from the event loop: SQLite writes join a group commit, SQLite
        reads run inline (they take microseconds), PostgreSQL work runs in a worker thread."""
        if self.group_commit is None:
            return await anyio.to_thread.run_sync(
                lambda: self.in_transaction(identity, region, function, write=write)
            )
        ctx = self._context(identity, region)
        if not write:
            return self._run(ctx, function, write=False)
        return await self._grouped(ctx, function)

    async def run_in_store(self, work: Callable[[Connection], T]) -> T:
        """Store work of no request (background controllers): a savepoint of the next group
        commit on SQLite, its own transaction in a worker thread on PostgreSQL."""
        if self.group_commit is not None:
            return await self.group_commit.run(work)

        def once() -> T:
            for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
                try:
                    with transaction(self.engine) as connection:
                        return work(connection)
                except DBAPIError as error:
                    # A deadlock PostgreSQL broke by rolling this work back: safe to run again.
                    if not _retryable(error) or attempt == TRANSACTION_ATTEMPTS:
                        raise
                    time.sleep(random.uniform(0.002, 0.02) * attempt)
            raise AssertionError("unreachable")

        return await anyio.to_thread.run_sync(once)

    def in_transaction(
        self, identity: Identity, region: str, function: Callable[[RequestContext], T], *, write: bool = True
    ) -> T:
        """Run ``function`` as ``identity`` in one transaction (for work outside the API path)."""
        return self._run(self._context(identity, region), function, write=write)

    def _context(self, identity: Identity, region: str) -> RequestContext:
        return RequestContext(
            request_id=str(uuid.uuid4()),
            service="ecs",
            server=self,
            identity=identity,
            region=region,
            now=time.time(),
        )

    def dispatch(self, ctx: RequestContext) -> Any:
        """Run the operation's domain method inside one transaction of its own."""
        action = self._action(ctx)
        return self._run(ctx, action, write=action.writes)

    async def dispatch_inline(self, ctx: RequestContext) -> Any:
        """``dispatch`` on the event loop (SQLite): a write joins the next group commit and
        returns once it is durable."""
        action = self._action(ctx)
        if self.group_commit is None or not action.writes:
            return self._run(ctx, action, write=action.writes)
        return await self._grouped(ctx, action)

    async def _grouped(self, ctx: RequestContext, function: Callable[[RequestContext], T]) -> T:
        """``_run`` for a write on SQLite: in a savepoint of the next group commit."""
        assert self.group_commit is not None
        result = await self.group_commit.run(
            lambda connection: self._within(ctx, function, connection), lambda: self._after_writes(ctx)
        )
        self._after_commit(ctx)
        return result

    def _action(self, ctx: RequestContext) -> Action:
        assert ctx.operation is not None
        action = self._actions[ctx.service].get(ctx.operation.name)
        if action is None:
            raise not_implemented(ctx.operation.name)
        return action

    def _run(self, ctx: RequestContext, function: Callable[[RequestContext], T], *, write: bool) -> T:
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                with transaction(self.engine, write=write) as connection:
                    result = self._within(ctx, function, connection)
                break
            except DBAPIError as error:
                # PostgreSQL broke a deadlock (or a serialization conflict) by rolling this
                # transaction back whole: running it again is safe, and the caller never sees it.
                if not _retryable(error) or attempt == TRANSACTION_ATTEMPTS:
                    raise
                ctx.before_commit.clear()
                ctx.after_writes.clear()
                ctx.after_commit.clear()
                time.sleep(random.uniform(0.002, 0.02) * attempt)
        self._after_writes(ctx)
        self._after_commit(ctx)
        return result

    @staticmethod
    def _within(ctx: RequestContext, function: Callable[[RequestContext], T], connection: Any) -> T:
        """``function`` and the request's before-commit hooks, on ``connection``."""
        ctx.connection = connection
        try:
            result = function(ctx)
            for hook in ctx.before_commit:
                hook()
        finally:
            ctx.connection = None
        return result

    @staticmethod
    def _after_writes(ctx: RequestContext) -> None:
        for hook in ctx.after_writes:
            hook()

    @staticmethod
    def _after_commit(ctx: RequestContext) -> None:
        for hook in ctx.after_commit:
            hook()
