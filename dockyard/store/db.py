"""Engines and transactions: SQLite (WAL) embedded by default, PostgreSQL by URL.

Every API request runs in exactly one transaction. On SQLite a request that writes takes
the write lock up front (BEGIN IMMEDIATE), so two writers queue on the busy timeout instead
of deadlocking on a lock upgrade; reads never block writers under WAL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event

_LONG_DIGITS = re.compile(r"\d{19}")


def sqlite_url(data_dir: str | Path) -> str:
    """The URL of the embedded database inside a data directory."""
    return f"sqlite:///{Path(data_dir).resolve() / 'dockyard.db'}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``, tuned for its backend."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8,
            json_deserializer=_json_loads,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level: we issue BEGIN ourselves (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a transaction acknowledged to a client survives a power cut, not only a crash.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get("write", False)
    # Straight to the driver: BEGIN through exec_driver_sql cost a third of a read transaction.
    connection.connection.dbapi_connection.execute(  # type: ignore[union-attr]
        "BEGIN IMMEDIATE" if write else "BEGIN"
    )


def _json_loads(text: str) -> Any:
    # Every document column of every row read passes here; orjson parses several times
    # faster than json. Beyond 64-bit integers it returns floats where json returns ints, and
    # it refuses NaN and lone surrogates: those documents go to json, so results are the same.
    if _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


@contextmanager
def transaction(engine: Engine, *, write: bool = True) -> Iterator[Connection]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with engine.connect().execution_options(write=write) as connection, connection.begin():
        yield connection
