"""Access keys: created, listed and revoked by the admin verbs; looked up on every request.

Secrets are stored sealed (``identity.sealing``): whoever writes or reads one passes the
control plane's ``Sealer``.
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from dockyard.identity.sealing import Sealer, is_sealed
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
    thing_name: str | None = None  # a device key: only the IoT Jobs data plane, as this thing


def create_key(
    connection: Connection,
    sealer: Sealer,
    *,
    account_id: str = DEFAULT_ACCOUNT_ID,
    user_name: str = "admin",
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    thing_name: str | None = None,
) -> AccessKey:
    """Store a new active key (random unless both halves are given) and return it."""
    key = AccessKey(
        access_key_id=access_key_id or _new_key_id(),
        secret_access_key=secret_access_key or secrets.token_urlsafe(30)[:40],
        account_id=account_id,
        user_name=user_name,
        status="Active",
        created_at=time.time(),
        thing_name=thing_name,
    )
    row = _as_row(key) | {"secret_access_key": sealer.seal(key.secret_access_key, key.access_key_id)}
    connection.execute(insert(access_keys).values(row))
    return key


def _new_key_id() -> str:
    return "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


def _as_row(key: AccessKey) -> dict[str, object]:
    return {name: getattr(key, name) for name in AccessKey.__slots__}


def find_key(connection: Connection, access_key_id: str, sealer: Sealer) -> AccessKey | None:
    """The key with this id, active or not, its secret opened."""
    row = connection.execute(select(access_keys).where(access_keys.c.access_key_id == access_key_id)).first()
    if row is None:
        return None
    secret = sealer.open(row.secret_access_key, row.access_key_id)
    return AccessKey(**(dict(row._mapping) | {"secret_access_key": secret}))


def device_key(connection: Connection, sealer: Sealer, account_id: str, thing_name: str) -> AccessKey:
    """The active key bound to this thing, made on first use: what its agent runs jobs with."""
    row = connection.execute(
        select(access_keys.c.access_key_id)
        .where(
            access_keys.c.account_id == account_id,
            access_keys.c.thing_name == thing_name,
            access_keys.c.status == "Active",
        )
        .limit(1)
    ).first()
    if row is not None:
        found = find_key(connection, row.access_key_id, sealer)
        assert found is not None
        return found
    return create_key(
        connection, sealer, account_id=account_id, user_name=f"thing/{thing_name}", thing_name=thing_name
    )


def revoke_device_keys(connection: Connection, account_id: str, thing_name: str) -> list[str]:
    """Revoke the keys bound to a thing that is gone; their ids (for the key cache)."""
    ids = [
        row.access_key_id
        for row in connection.execute(
            select(access_keys.c.access_key_id).where(
                access_keys.c.account_id == account_id,
                access_keys.c.thing_name == thing_name,
                access_keys.c.status == "Active",
            )
        )
    ]
    if ids:
        connection.execute(
            update(access_keys).where(access_keys.c.access_key_id.in_(ids)).values(status="Inactive")
        )
    return ids


def list_keys(connection: Connection) -> list[AccessKey]:
    """Every key, without its secret."""
    rows = connection.execute(select(access_keys).order_by(access_keys.c.created_at))
    return [AccessKey(**(dict(row._mapping) | {"secret_access_key": ""})) for row in rows]


def seal_stored_secrets(connection: Connection, sealer: Sealer) -> int:
    """Seal the secrets stored before sealing existed (at start-up); how many there were."""
    rows = connection.execute(select(access_keys.c.access_key_id, access_keys.c.secret_access_key)).all()
    plain = [row for row in rows if not is_sealed(row.secret_access_key)]
    for row in plain:
        connection.execute(
            update(access_keys)
            .where(access_keys.c.access_key_id == row.access_key_id)
            .values(secret_access_key=sealer.seal(row.secret_access_key, row.access_key_id))
        )
    return len(plain)


def revoke_key(connection: Connection, access_key_id: str) -> bool:
    """Mark a key Inactive; requests signed with it are refused from then on."""
    result = connection.execute(
        update(access_keys).where(access_keys.c.access_key_id == access_key_id).values(status="Inactive")
    )
    return result.rowcount > 0


def has_keys(connection: Connection) -> bool:
    return connection.execute(select(access_keys.c.access_key_id).limit(1)).first() is not None
