"""The request context: filled step by step on the request path, handed to domain methods."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from sqlalchemy import Connection

    from dockyard.errors import ApiError
    from dockyard.server_state import ServerState
    from dockyard.store.pagination import PageTokens


@dataclass(slots=True)
class Identity:
    """Who signed the request: an IAM-style user in an account."""

    access_key_id: str
    account_id: str
    user_name: str
    thing_name: str | None = None  # a device key's thing: it acts for this thing only

    @property
    def principal_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:user/{self.user_name}"


@dataclass(slots=True)
class RequestContext:
    """One API call, from its bytes on the wire to its result or error."""

    request_id: str
    service: str
    server: ServerState
    operation: OperationModel | None = None
    identity: Identity | None = None
    region: str = "us-east-1"
    params: dict[str, Any] = field(default_factory=dict)
    connection: Connection | None = None
    now: float = 0.0
    result: Any = None
    error: ApiError | None = None
    # Run inside the request's transaction, after the domain method, right before the commit
    # (e.g. the placement version bump, ecs/placement_cache.py).
    before_commit: list[Callable[[], None]] = field(default_factory=list)
    # Run as soon as the request's writes are final for the requests after it: right after its
    # transaction committed, or, in a group commit, right after its savepoint was released
    # (store/group_commit.py; a batch lost at commit then drops what these hooks fed). For
    # in-memory state that follows the store (the placement cache's write-through).
    after_writes: list[Callable[[], None]] = field(default_factory=list)
    # Run once the request's transaction committed, durably (e.g. waking agent connections).
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    # What a front-end's prefetch read before the transaction (blocking I/O kept off it).
    prefetched: dict[str, Any] = field(default_factory=dict)

    @property
    def account_id(self) -> str:
        assert self.identity is not None
        return self.identity.account_id

    @property
    def tokens(self) -> PageTokens:
        return self.server.tokens

    @property
    def conn(self) -> Connection:
        """The request's database transaction (domain methods only run inside one)."""
        assert self.connection is not None
        return self.connection
