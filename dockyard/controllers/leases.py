"""Leadership of a controller across control-plane processes: a lease row in the store.

A holder renews its lease every second or so; a lease not renewed for ``LEASE_SECONDS`` is
free for the next process that asks. The row is locked while it is read and written, so two
processes never both hold it (on SQLite the writer holds the whole database anyway). A row in
the store, rather than a PostgreSQL advisory lock, works the same on both stores and for
``--workers`` processes sharing one SQLite file.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from dockyard.store.schema import controller_leases

LEASE_SECONDS = 5.0

_leases = controller_leases.c


def try_hold(connection: Connection, name: str, holder: str, now: float) -> bool:
    """Take or renew the lease of ``name`` for ``holder``; whether it now holds it."""
    row = connection.execute(select(controller_leases).where(_leases.name == name).with_for_update()).first()
    expires_at = now + LEASE_SECONDS
    if row is None:
        try:
            with connection.begin_nested():  # another process may insert it first
                connection.execute(
                    insert(controller_leases).values(name=name, holder=holder, expires_at=expires_at)
                )
        except IntegrityError:
            return False
        return True
    if row.holder != holder and row.expires_at > now:
        return False
    connection.execute(
        update(controller_leases).where(_leases.name == name).values(holder=holder, expires_at=expires_at)
    )
    return True


def release(connection: Connection, name: str, holder: str) -> None:
    """Give the lease up at once (a clean stop), so another process takes over without waiting."""
    connection.execute(
        update(controller_leases).where(_leases.name == name, _leases.holder == holder).values(expires_at=0.0)
    )
