"""Prebuilt SELECTs run straight through SQLite's driver, inside the request's transaction.

A statement built once (module level, or cached per list length) still costs SQLAlchemy ~50 µs
per execution on SQLite (its parameters rebuilt, an execution context, a cursor result set up:
three to four times what SQLite takes to run it), and a read-only action runs one to six of
them. ``execute`` compiles such a statement once (its SQL, its parameters in order with the
literal values it carries, each result column's processor, e.g. JSON), runs it on the DBAPI
connection of the SQLAlchemy connection it is given (the same transaction), and hands back a
SQLAlchemy ``Result`` of ordinary ``Row`` objects (attributes, ``_mapping`` by name, ``first``,
``one``, ``all``, ``scalar``). Any other database, and any statement whose parameters need
converting or expanding, goes through ``Connection.execute`` as before.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Result, Row, Select
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.util.typing import TupleAny, Unpack


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameter of each "?", in order
    literals: dict[str, Any]  # values the statement carries itself (literal(), == "ACTIVE")
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, processor) where one is needed
    metadata: SimpleResultMetaData


# id(statement) -> the statement (kept, so its id cannot be reused) and how it runs (None:
# through SQLAlchemy).
_COMPILED: dict[int, tuple[Select[Unpack[TupleAny]], _Compiled | None]] = {}
# Statements are built once, so this stays small; the bound only guards against a caller that
# passes a statement built per call (it would then be compiled each time, still correct).
_MOST_COMPILED = 4096


def execute(
    connection: Connection, statement: Select[Unpack[TupleAny]], params: Mapping[str, Any]
) -> Result[Unpack[TupleAny]]:
    """``connection.execute(statement, params)``, straight through the driver on SQLite."""
    compiled = _direct(connection, statement)
    if compiled is None:
        return connection.execute(statement, params)
    return IteratorResult(compiled.metadata, iter(_run(connection, compiled, params)))


class Rows(list[Row[Unpack[TupleAny]]]):
    """A statement's rows as ``fetch`` gives them: a list, with the methods of SQLAlchemy's
    ``Result`` that the read paths use."""

    def first(self) -> Row[Unpack[TupleAny]] | None:
        return self[0] if self else None

    def one(self) -> Row[Unpack[TupleAny]]:
        if len(self) != 1:
            raise (MultipleResultsFound if self else NoResultFound)(f"{len(self)} rows, one expected")
        return self[0]

    def all(self) -> list[Row[Unpack[TupleAny]]]:
        return list(self)

    def scalar(self) -> Any:
        return self[0][0] if self else None


def fetch(connection: Connection, statement: Select[Any], params: Mapping[str, Any]) -> Rows:
    """``execute``, its rows built straight into SQLAlchemy's ``Row`` objects: no ``Result``
    and its set-up per execution (about 5 µs a statement, more than SQLite takes for most)."""
    compiled = _direct(connection, statement)
    if compiled is None:
        return Rows(connection.execute(statement, params))
    metadata = compiled.metadata
    key_to_index = metadata._key_to_index
    return Rows([Row(metadata, None, key_to_index, row) for row in _run(connection, compiled, params)])


def _direct(connection: Connection, statement: Select[Any]) -> _Compiled | None:
    """How ``statement`` runs on the driver; None: through SQLAlchemy (not SQLite, or a
    statement whose parameters need SQLAlchemy)."""
    if connection.dialect.name != "sqlite":
        return None
    cached = _COMPILED.get(id(statement))
    return cached[1] if cached is not None else _compiled(connection, statement)


def _run(connection: Connection, compiled: _Compiled, params: Mapping[str, Any]) -> list[Any]:
    literals = compiled.literals
    values = [params[name] if name in params else literals[name] for name in compiled.names]
    cursor = connection.connection.dbapi_connection.execute(compiled.sql, values)  # type: ignore[union-attr]
    rows: list[Any] = cursor.fetchall()
    if compiled.processors:
        rows = [_processed(row, compiled.processors) for row in rows]
    return rows


def _processed(row: tuple[Any, ...], processors: tuple[tuple[int, Callable[[Any], Any]], ...]) -> list[Any]:
    values = list(row)
    for index, process in processors:
        values[index] = process(values[index])
    return values


def _compiled(connection: Connection, statement: Select[Unpack[TupleAny]]) -> _Compiled | None:
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect)
    binds = compiled.binds
    direct: _Compiled | None = None
    plain = not (compiled.literal_execute_params or compiled.post_compile_params) and all(
        bind.type.bind_processor(dialect) is None for bind in binds.values()
    )
    if plain and compiled.positiontup is not None:
        columns = list(statement.selected_columns)
        direct = _Compiled(
            sql=compiled.string,
            names=tuple(compiled.positiontup),
            literals={name: bind.effective_value for name, bind in binds.items() if not bind.required},
            processors=tuple(
                (index, process)
                for index, process in enumerate(
                    column.type.result_processor(dialect, None) for column in columns
                )
                if process is not None
            ),
            metadata=SimpleResultMetaData([column.name for column in columns]),
        )
    if len(_COMPILED) >= _MOST_COMPILED:
        _COMPILED.clear()
    _COMPILED[id(statement)] = (statement, direct)
    return direct


# -- writes ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Written:
    """What a write did: the rows it matched, and its RETURNING row (a single write)."""

    rowcount: int
    returned: tuple[Any, ...] | None = None


@dataclass(frozen=True, slots=True)
class _CompiledWrite:
    sql: str
    names: tuple[str, ...]  # the parameter of each "?", in order
    literals: dict[str, Any]  # values the statement carries itself, already processed
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, bind processor), e.g. JSON


_WRITES: dict[tuple[int, frozenset[str]], tuple[UpdateBase, _CompiledWrite | None]] = {}


def write(
    connection: Connection, statement: UpdateBase, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> Written:
    """``connection.execute(statement, rows)`` for an INSERT, UPDATE or DELETE built once, straight
    through the driver on SQLite (one ``executemany`` for a list of rows, all with the same keys).

    On the hot write paths (RunTask's reservation, task rows and stamps) SQLAlchemy's own work
    per execution cost more than SQLite's."""
    many = not isinstance(rows, Mapping)
    batch: Sequence[Mapping[str, Any]] = [rows] if isinstance(rows, Mapping) else rows
    first = batch[0]
    if connection.dialect.name == "sqlite":
        keys = frozenset(first)
        cached = _WRITES.get((id(statement), keys))
        compiled = cached[1] if cached is not None else _compiled_write(connection, statement, keys)
        if compiled is not None:
            cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            if many:
                cursor.executemany(compiled.sql, [_values(compiled, row) for row in batch])
                return Written(cursor.rowcount)
            cursor.execute(compiled.sql, _values(compiled, first))
            returned = cursor.fetchone() if cursor.description else None
            return Written(cursor.rowcount if returned is None else 1, returned)
    result = connection.execute(statement, rows)
    returned = result.first() if result.returns_rows else None
    return Written(result.rowcount if returned is None else 1, tuple(returned) if returned else None)


def _values(compiled: _CompiledWrite, row: Mapping[str, Any]) -> list[Any]:
    literals = compiled.literals
    values = [row[name] if name in row else literals[name] for name in compiled.names]
    for index, process in compiled.processors:
        if compiled.names[index] in row:
            values[index] = process(values[index])
    return values


def _compiled_write(
    connection: Connection, statement: UpdateBase, keys: frozenset[str]
) -> _CompiledWrite | None:
    dialect = connection.dialect
    # As Connection.execute compiles it: the parameters' keys decide an INSERT's columns.
    compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))
    direct: _CompiledWrite | None = None
    # Python-side column defaults (prefetched) are computed by SQLAlchemy's execution: those
    # writes stay with it.
    prefetch = compiled.insert_prefetch or compiled.update_prefetch
    if (
        not (compiled.literal_execute_params or compiled.post_compile_params or prefetch)
        and compiled.positiontup
    ):
        names = tuple(compiled.positiontup)
        binds = compiled.binds
        processors = {name: bind.type.bind_processor(dialect) for name, bind in binds.items()}
        literals = {}
        for name, bind in binds.items():
            if not bind.required and name not in keys:
                process = processors[name]
                literals[name] = process(bind.effective_value) if process else bind.effective_value
        direct = _CompiledWrite(
            sql=compiled.string,
            names=names,
            literals=literals,
            processors=tuple(
                (index, process) for index, name in enumerate(names) if (process := processors.get(name))
            ),
        )
    if len(_WRITES) >= _MOST_COMPILED:
        _WRITES.clear()
    _WRITES[(id(statement), keys)] = (statement, direct)
    return direct


# One number per DBAPI connection ever stamped in this process (never reused, unlike id()).
_CONNECTION_SERIALS = itertools.count(1)


def change_stamp(connection: Connection) -> tuple[int, int, int] | None:
    """A value that changes whenever what this transaction reads may differ from what an
    earlier transaction on the same SQLite connection read: ``commits_elsewhere`` and the
    rows the connection has itself changed (``total_changes``). The pragma begins the
    transaction's read snapshot, so the stamp is the snapshot's. None on other databases, or
    outside a transaction."""
    elsewhere = commits_elsewhere(connection)
    if elsewhere is None:
        return None
    serial, version = elsewhere
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    return serial, dbapi.total_changes, version


def commits_elsewhere(connection: Connection) -> tuple[int, int] | None:
    """The connection's serial and SQLite's ``data_version``, which every commit of any other
    connection (of this process or another) moves, and the connection's own commits do not.
    None on other databases, or outside a transaction."""
    if connection.dialect.name != "sqlite":
        return None
    fairy = connection.connection
    dbapi = fairy.dbapi_connection
    if dbapi is None or not dbapi.in_transaction:
        return None
    info = fairy.info
    serial = info.get("dockyard_change_serial")
    if serial is None or serial[1] is not dbapi:  # the record's info outlives a reconnect
        serial = info["dockyard_change_serial"] = (next(_CONNECTION_SERIALS), dbapi)
    return serial[0], dbapi.execute("PRAGMA data_version").fetchone()[0]
