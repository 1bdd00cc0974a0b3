"""Engines and transactions: SQLite (WAL) embedded by default, PostgreSQL by URL.

Every API request runs in exactly one transaction. On SQLite a request that writes takes
the write lock up front (BEGIN IMMEDIATE), so two writers queue on the busy timeout instead
of deadlocking on a lock upgrade; reads never block writers under WAL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event

# A run of 19 ASCII digits, found by mapping every byte to "0" (a digit) or " " and searching
# once: a regular expression took 3 ms on a 64 KiB task definition, this 0.2 ms.
_DIGITS_ONLY = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_DIGITS = b"0" * 19
# SQLite connections kept checked out between transactions (see transaction()), per engine; a
# few, so the pool (8 + 10 overflow) always has connections for everything else.
_PARKED = "_dockyard_parked_connections"
_PARK_AT_MOST = 4


def sqlite_url(data_dir: str | Path) -> str:
    """The URL of the embedded database inside a data directory."""
    return f"sqlite:///{Path(data_dir).resolve() / 'dockyard.db'}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``, tuned for its backend."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            # The driver keeps prepared statements per connection (128 by default); the IN lists
            # sized per call make hundreds of shapes, and a statement prepared again costs more
            # than running it (a task INSERT's plan is tens of microseconds).
            connect_args={"check_same_thread": False, "timeout": 30, "cached_statements": STATEMENT_CACHE},
            pool_size=8,
            json_serializer=_json_dumps,
            json_deserializer=_json_loads,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        # BEGIN comes from the dialect, not from a "begin" event: any connection event on the
        # engine makes SQLAlchemy dispatch events around every statement, a cost on each one.
        engine.dialect.do_begin = _sqlite_do_begin  # type: ignore[method-assign]
        engine.__dict__[_PARKED] = []
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True, json_serializer=_json_dumps)


STATEMENT_CACHE = 1024  # prepared statements kept per connection
PAGE_CACHE_KIB = 16 * 1024  # per connection, taken as pages are used
WAL_CHECKPOINT_PAGES = 8000  # 4 KiB pages: a write-ahead log of up to ~32 MiB between checkpoints


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level: we issue BEGIN ourselves (see _sqlite_do_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a transaction acknowledged to a client survives a power cut, not only a crash.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # A task insert or report dirties pages all over the tasks' indexes: a 2 MiB page cache
    # (the default) re-read them from the file on every statement.
    cursor.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
    # A checkpoint copies each page changed since the last once, however often it changed:
    # fewer, larger checkpoints copy the hot pages fewer times.
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cursor.close()


def _sqlite_do_begin(dbapi_connection: Any) -> None:
    # Every Connection.begin() on SQLite: a deferred BEGIN, unless transaction() has already
    # begun a writer's transaction with BEGIN IMMEDIATE.
    if not dbapi_connection.in_transaction:
        dbapi_connection.execute("BEGIN")


def _json_dumps(document: Any) -> str:
    # Every document column of every row written passes here (a RunTask writes six per task).
    # orjson refuses integers beyond 64 bits and non-string keys; those go to json.
    try:
        return orjson.dumps(document).decode()
    except TypeError:
        return json.dumps(document)


def _json_loads(text: str) -> Any:
    # Every document column of every row read passes here; orjson parses several times
    # faster than json. Beyond 64-bit integers it returns floats where json returns ints, and
    # it refuses NaN and lone surrogates: those documents go to json, so results are the same.
    # (Shorter than 19 characters, "[]" and "{}" above all, it can hold no such integer.)
    if len(text) < 19 or _LONG_DIGITS not in text.encode("utf-8", "surrogatepass").translate(_DIGITS_ONLY):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


@contextmanager
def lock_scope(connection: Connection) -> Iterator[None]:
    """A block whose row locks are let go again if it raises, so a caller that retries does
    not hold the locks of its failed attempt while it takes others (an out-of-order lock, a
    deadlock on PostgreSQL): a savepoint there. On SQLite, whose writer holds the whole
    database, there are no row locks and nothing is done; so raise before writing anything.
    """
    if connection.dialect.name == "sqlite":
        yield
        return
    with connection.begin_nested():
        yield


def transaction(engine: Engine, *, write: bool = True) -> AbstractContextManager[Connection]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    parked: list[Connection] | None = engine.__dict__.get(_PARKED)
    if parked is not None and not write:
        return _ParkedRead(engine, parked)
    return _transaction(engine, parked, write)


@contextmanager
def _transaction(engine: Engine, parked: list[Connection] | None, write: bool) -> Iterator[Connection]:
    if parked is not None:
        yield from _parked_write(engine, parked)
        return
    with engine.connect().execution_options(write=write) as connection, connection.begin():
        yield connection


def _parked_write(engine: Engine, parked: list[Connection]) -> Iterator[Connection]:
    # SQLite: reuse a parked connection; checking one out of the pool and back costs more
    # than the whole transaction of a read (reads: _ParkedRead).
    try:
        connection: Connection | None = parked.pop()
    except IndexError:  # none parked (another thread may have taken the last one)
        connection = None
    if connection is None:
        connection = engine.connect()
    reusable = False
    try:
        # The write lock up front (see above); straight to the driver, which is cheaper.
        connection.connection.dbapi_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
        with connection.begin():
            yield connection
        # Parked only as it came: no open transaction, no options a caller set on it.
        reusable = not (
            connection.closed
            or connection.invalidated
            or connection.in_transaction()
            or connection.get_execution_options()
        )
    finally:
        if reusable and len(parked) < _PARK_AT_MOST:
            parked.append(connection)
        else:
            connection.close()


class _ParkedRead:
    """A read on SQLite, on a parked connection. Its BEGIN and COMMIT go straight to the
    driver: SQLAlchemy's own transaction bookkeeping cost more than the read's statement (most
    reads run on the driver too, store/direct.py). A statement through SQLAlchemy inside
    autobegins its transaction on top of this one (_sqlite_do_begin then sends no second
    BEGIN); it is ended with it. A class, not a generator: every read-only request takes one."""

    __slots__ = ("_engine", "_parked", "_connection", "_dbapi")

    def __init__(self, engine: Engine, parked: list[Connection]) -> None:
        self._engine = engine
        self._parked = parked

    def __enter__(self) -> Connection:
        try:
            connection = self._parked.pop()
        except IndexError:  # none parked (another thread may have taken the last one)
            connection = self._engine.connect()
        try:
            dbapi = connection.connection.dbapi_connection
            assert dbapi is not None
            dbapi.execute("BEGIN")
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self._dbapi = dbapi
        return connection

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        connection, dbapi = self._connection, self._dbapi
        try:
            if kind is not None:
                if connection.in_transaction():
                    connection.rollback()
                dbapi.rollback()
                reusable = False
            else:
                if connection.in_transaction():
                    connection.commit()
                dbapi.commit()
                # Parked only as it came: no open transaction, no options a caller set on it.
                reusable = not (
                    connection.closed
                    or connection.invalidated
                    or connection.in_transaction()
                    or connection.get_execution_options()
                )
        except BaseException:
            reusable = False
            raise
        finally:
            if reusable and len(self._parked) < _PARK_AT_MOST:
                self._parked.append(connection)
            else:
                connection.close()
