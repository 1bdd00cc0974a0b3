"""Access keys: created, listed and revoked by the admin verbs; looked up on every request."""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from dockyard.store.schema import access_keys

DEFAULT_ACCOUNT_ID = "123456789012"
_KEY_ALPHABET = string.ascii_uppercase + "234567"


@dataclass(frozen=True, slots=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    account_id: str
    user_name: str
    status: str
    created_at: float


def create_key(
    connection: Connection,
    *,
    account_id: str = DEFAULT_ACCOUNT_ID,
    user_name: str = "admin",
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
) -> AccessKey:
    """Store a new active key (random unless both halves are given) and return it."""
    key = AccessKey(
        access_key_id=access_key_id or _new_key_id(),
        secret_access_key=secret_access_key or secrets.token_urlsafe(30)[:40],
        account_id=account_id,
        user_name=user_name,
        status="Active",
        created_at=time.time(),
    )
    connection.execute(insert(access_keys).values(_as_row(key)))
    return key


def _new_key_id() -> str:
    return "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


def _as_row(key: AccessKey) -> dict[str, object]:
    return {name: getattr(key, name) for name in AccessKey.__slots__}


def find_key(connection: Connection, access_key_id: str) -> AccessKey | None:
    """The key with this id, active or not."""
    row = connection.execute(select(access_keys).where(access_keys.c.access_key_id == access_key_id)).first()
    return AccessKey(**row._mapping) if row else None


def list_keys(connection: Connection) -> list[AccessKey]:
    rows = connection.execute(select(access_keys).order_by(access_keys.c.created_at))
    return [AccessKey(**row._mapping) for row in rows]


def revoke_key(connection: Connection, access_key_id: str) -> bool:
    """Mark a key Inactive; requests signed with it are refused from then on."""
    result = connection.execute(
        update(access_keys).where(access_keys.c.access_key_id == access_key_id).values(status="Inactive")
    )
    return result.rowcount > 0


def has_keys(connection: Connection) -> bool:
    return connection.execute(select(access_keys.c.access_key_id).limit(1)).first() is not None
