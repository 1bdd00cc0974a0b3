"""protocol.read_cache on a real SQLite store: when an answer is reused, and when it is not."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from sqlalchemy import Engine, text

from dockyard.context import Identity, RequestContext
from dockyard.protocol import read_cache
from dockyard.store.db import make_engine, sqlite_url, transaction

_ECS = botocore.session.get_session().get_service_model("ecs")
ALICE = Identity("AKIDALICE", "111111111111", "alice")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(sqlite_url(tmp_path))
    with transaction(engine) as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
    yield engine
    engine.dispose()


class Reader:
    """A read-only action that reads ``t`` and counts how often it really ran."""

    def __init__(self) -> None:
        self.runs = 0
        self.holds_for: float | None = None

    def __call__(self, ctx: RequestContext) -> dict[str, Any]:
        self.runs += 1
        if self.holds_for is not None:
            read_cache.holds_until(ctx.now + self.holds_for)
        return {"x": ctx.conn.execute(text("SELECT x FROM t")).scalar()}


def ask(
    engine: Engine,
    reader: Reader,
    *,
    identity: Identity = ALICE,
    params: dict[str, Any] | None = None,
    operation: str = "DescribeClusters",
    now: float | None = None,
) -> Any:
    ctx = RequestContext(
        request_id="r",
        service="ecs",
        server=None,  # type: ignore[arg-type]
        operation=_ECS.operation_model(operation),
        identity=identity,
        params={"clusters": ["a"]} if params is None else params,
        now=time.time() if now is None else now,
    )
    with transaction(engine, write=False) as connection:
        ctx.connection = connection
        return read_cache.answer(ctx, reader)


def write(engine: Engine, value: int) -> None:
    with transaction(engine) as connection:
        connection.execute(text("UPDATE t SET x = :x"), {"x": value})


def test_the_same_request_on_an_unchanged_store_is_answered_once(engine: Engine) -> None:
    reader = Reader()
    assert [ask(engine, reader) for _ in range(3)] == [{"x": 1}] * 3
    assert reader.runs == 1


def test_a_write_through_the_same_pool_is_seen_by_the_next_read(engine: Engine) -> None:
    reader = Reader()
    assert ask(engine, reader) == {"x": 1}
    write(engine, 2)  # on SQLite the write and the reads share parked connections
    assert ask(engine, reader) == {"x": 2}
    write(engine, 3)
    assert ask(engine, reader) == {"x": 3}


def test_a_write_by_another_process_is_seen_by_the_next_read(engine: Engine, tmp_path: Path) -> None:
    reader = Reader()
    assert ask(engine, reader) == {"x": 1}
    other = make_engine(sqlite_url(tmp_path))  # another pool: as another process would write
    try:
        write(other, 5)
    finally:
        other.dispose()
    assert ask(engine, reader) == {"x": 5}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"identity": Identity("AKIDBOB", "222222222222", "bob")}, id="another account"),
        pytest.param({"identity": Identity("AKIDCAROL", "111111111111", "carol")}, id="another user"),
        pytest.param({"params": {"clusters": ["b"]}}, id="other parameters"),
        pytest.param({"operation": "ListClusters", "params": {}}, id="another operation"),
    ],
)
def test_an_answer_is_reused_only_for_the_same_question(engine: Engine, change: dict[str, Any]) -> None:
    reader = Reader()
    ask(engine, reader)
    ask(engine, reader, **change)
    assert reader.runs == 2


def test_an_answer_that_holds_for_a_while_is_made_again_after(engine: Engine) -> None:
    reader = Reader()
    reader.holds_for = 30.0
    ask(engine, reader, now=1000.0)
    ask(engine, reader, now=1029.0)
    assert reader.runs == 1
    ask(engine, reader, now=1030.0)
    assert reader.runs == 2


def test_a_request_naming_many_items_is_not_kept(engine: Engine) -> None:
    reader = Reader()
    many = {"clusters": [f"c{i}" for i in range(read_cache.MAX_NAMED + 1)]}
    ask(engine, reader, params=many)
    ask(engine, reader, params=many)
    assert reader.runs == 2


def test_an_error_is_not_kept(engine: Engine) -> None:
    runs: list[int] = []

    def failing(ctx: RequestContext) -> Any:
        runs.append(1)
        raise LookupError("not found")

    reader: Callable[[RequestContext], Any] = failing
    for _ in range(2):
        with pytest.raises(LookupError):
            ask(engine, reader)  # type: ignore[arg-type]
    assert len(runs) == 2
