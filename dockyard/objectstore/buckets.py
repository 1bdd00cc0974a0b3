"""The records of the accounts' buckets (``object_buckets``): what ListBuckets shows and
what CreateBucket and DeleteBucket change. The objects themselves live in the backing store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from dockyard.store.schema import object_buckets

_COLUMNS = (
    object_buckets.c.name,
    object_buckets.c.region,
    object_buckets.c.backing_bucket,
    object_buckets.c.created_at,
)


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str
    backing_bucket: str
    created_at: float


def add(connection: Connection, account_id: str, region: str, name: str, backing: str, now: float) -> bool:
    """Record the account's bucket; False if it has one of that name already."""
    if find(connection, account_id, name) is not None:
        return False
    try:
        with connection.begin_nested():
            connection.execute(
                insert(object_buckets).values(
                    account_id=account_id, region=region, name=name, backing_bucket=backing, created_at=now
                )
            )
    except IntegrityError:  # made at the same time by another request
        return False
    return True


def find(connection: Connection, account_id: str, name: str) -> Bucket | None:
    row = connection.execute(
        select(*_COLUMNS).where(object_buckets.c.account_id == account_id, object_buckets.c.name == name)
    ).first()
    return Bucket(*row) if row is not None else None


def list_all(connection: Connection, account_id: str) -> list[Bucket]:
    """The account's buckets by name."""
    rows = connection.execute(
        select(*_COLUMNS).where(object_buckets.c.account_id == account_id).order_by(object_buckets.c.name)
    )
    return [Bucket(*row) for row in rows]


def remove(connection: Connection, account_id: str, name: str) -> None:
    connection.execute(
        delete(object_buckets).where(object_buckets.c.account_id == account_id, object_buckets.c.name == name)
    )
