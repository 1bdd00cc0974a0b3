"""A read on SQLite is one transaction whose BEGIN and COMMIT go straight to the driver
(store/db.py): its statements, on the driver or through SQLAlchemy, see one snapshot; it ends
whole, raising or not; and its connection is parked again as it came."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, bindparam, func, insert, select

from dockyard.store import direct
from dockyard.store.db import make_engine, sqlite_url, transaction
from dockyard.store.migrate import upgrade
from dockyard.store.schema import clusters

_COUNT = select(func.count()).select_from(clusters).where(clusters.c.account_id == bindparam("account"))
_ACCOUNT = {"account": "111122223333"}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    return engine


def _add_cluster(engine: Engine, name: str) -> None:
    with engine.connect() as other, other.begin():  # another connection, as another request's
        other.execute(
            insert(clusters).values(
                account_id="111122223333",
                region="us-east-1",
                name=name,
                arn=f"arn:aws:ecs:us-east-1:111122223333:cluster/{name}",
                status="ACTIVE",
                settings=[],
                capacity_providers=[],
                default_capacity_provider_strategy=[],
                tags=[],
                created_at=1700000000.0,
            )
        )


def _parked(engine: Engine) -> list[object]:
    return list(engine.__dict__["_dockyard_parked_connections"])


@pytest.mark.parametrize("through", ["driver", "sqlalchemy"])
def test_a_read_sees_one_snapshot_while_another_connection_commits(engine: Engine, through: str) -> None:
    _add_cluster(engine, "before")
    with transaction(engine, write=False) as connection:

        def count() -> int:
            if through == "driver":
                return int(direct.execute(connection, _COUNT, _ACCOUNT).scalar_one())
            return int(connection.execute(_COUNT, _ACCOUNT).scalar_one())

        first = count()
        _add_cluster(engine, "meanwhile")
        second = count()
    with transaction(engine, write=False) as connection:
        after = int(direct.execute(connection, _COUNT, _ACCOUNT).scalar_one())
    assert (first, second, after) == (1, 1, 2)


@pytest.mark.parametrize("through", ["driver", "sqlalchemy", "nothing"])
def test_a_read_ends_whole_and_its_connection_is_parked_again(engine: Engine, through: str) -> None:
    with transaction(engine, write=False) as connection:
        if through == "driver":
            direct.execute(connection, _COUNT, _ACCOUNT).scalar_one()
        elif through == "sqlalchemy":
            connection.execute(_COUNT, _ACCOUNT).scalar_one()
        used = connection
    assert _parked(engine) == [used]
    assert not used.in_transaction()
    assert not used.connection.dbapi_connection.in_transaction  # type: ignore[union-attr]
    _add_cluster(engine, "after")  # no read lock or snapshot left behind


@pytest.mark.parametrize("through", ["driver", "sqlalchemy"])
def test_a_read_that_raises_is_rolled_back(engine: Engine, through: str) -> None:
    with pytest.raises(RuntimeError), transaction(engine, write=False) as connection:
        if through == "driver":
            direct.execute(connection, _COUNT, _ACCOUNT).scalar_one()
        else:
            connection.execute(_COUNT, _ACCOUNT).scalar_one()
        raise RuntimeError("the domain method failed")
    assert connection.closed and _parked(engine) == []  # a failed request's connection goes back
    with transaction(engine) as writer:  # the writer's lock is free: nothing was left open
        writer.execute(select(1))
