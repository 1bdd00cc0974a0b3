"""Commits on a real SQLite file: group commit (batched writes that still behave as one
transaction each) and a transaction lost at commit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from dockyard.store.db import make_engine, sqlite_url, transaction
from dockyard.store.group_commit import GroupCommit


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(sqlite_url(tmp_path))
    with transaction(engine) as connection:
        connection.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        connection.execute(
            text(
                "CREATE TABLE item (name TEXT PRIMARY KEY, parent INTEGER"
                " REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    return engine


def names(engine: Engine) -> list[str]:
    with transaction(engine, write=False) as connection:
        return [row[0] for row in connection.execute(text("SELECT name FROM item ORDER BY name"))]


def insert(name: str, parent: int | None = None):  # type: ignore[no-untyped-def]
    def work(connection: Connection) -> str:
        connection.execute(text("INSERT INTO item VALUES (:name, :parent)"), {"name": name, "parent": parent})
        return name

    return work


def failing(connection: Connection) -> None:
    connection.execute(text("INSERT INTO item VALUES ('half-written', NULL)"))
    raise ValueError("refused after a write")


async def gather(group: GroupCommit, *works) -> list[object]:  # type: ignore[no-untyped-def]
    return await asyncio.gather(*(group.run(work) for work in works), return_exceptions=True)


def test_writes_queued_together_share_one_commit(engine: Engine) -> None:
    group = GroupCommit(engine)
    results = asyncio.run(gather(group, insert("a"), insert("b"), insert("c")))
    assert results == ["a", "b", "c"]
    assert names(engine) == ["a", "b", "c"]
    assert (group.batches, group.requests) == (1, 3)


def test_a_failing_request_leaves_nothing_and_spares_the_others(engine: Engine) -> None:
    group = GroupCommit(engine)
    results = asyncio.run(gather(group, insert("a"), failing, insert("c")))
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], ValueError)
    assert names(engine) == ["a", "c"]  # not 'half-written'


def test_a_request_failing_in_the_database_leaves_nothing_and_spares_the_others(engine: Engine) -> None:
    group = GroupCommit(engine)

    def duplicate(connection: Connection) -> None:
        connection.execute(text("INSERT INTO item VALUES ('half-written', NULL)"))
        connection.execute(text("INSERT INTO item VALUES ('a', NULL)"))  # 'a' is taken: IntegrityError

    results = asyncio.run(gather(group, insert("a"), duplicate, insert("c")))
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], IntegrityError)
    assert names(engine) == ["a", "c"]


def test_a_request_sees_the_writes_of_those_before_it_in_its_batch(engine: Engine) -> None:
    group = GroupCommit(engine)

    def count(connection: Connection) -> int:
        return int(connection.execute(text("SELECT count(*) FROM item")).scalar_one())

    results = asyncio.run(gather(group, insert("a"), count))
    assert results == ["a", 1]


def test_a_batch_lost_at_commit_fails_every_request_and_is_reported(engine: Engine) -> None:
    lost: list[bool] = []
    group = GroupCommit(engine, on_lost=lambda: lost.append(True))
    # The deferred foreign key is only checked by COMMIT, so the savepoints succeed and the
    # commit of the whole batch fails.
    results = asyncio.run(gather(group, insert("a"), insert("orphan", parent=7)))
    assert all(isinstance(result, Exception) for result in results)
    assert lost == [True]
    assert names(engine) == []
    # The next batch starts clean.
    assert asyncio.run(gather(group, insert("b"))) == ["b"]
    assert names(engine) == ["b"]


def test_settled_runs_after_each_released_savepoint_in_order(engine: Engine) -> None:
    group = GroupCommit(engine)
    seen: list[str] = []

    async def both() -> None:
        await asyncio.gather(
            group.run(insert("a"), lambda: seen.append("a")),
            group.run(failing, lambda: seen.append("failing")),
            group.run(insert("b"), lambda: seen.append("b")),
            return_exceptions=True,
        )

    asyncio.run(both())
    assert seen == ["a", "b"]


def test_a_transaction_lost_at_commit_leaves_its_connection_clean(engine: Engine) -> None:
    with pytest.raises(Exception, match="FOREIGN KEY"), transaction(engine) as connection:
        insert("orphan", parent=7)(connection)
    for _ in range(10):  # whichever pooled connection comes next
        with transaction(engine) as connection:
            insert("x")(connection)
            connection.execute(text("DELETE FROM item"))
    assert names(engine) == []
