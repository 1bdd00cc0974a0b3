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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Result, Select
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
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
    if connection.dialect.name != "sqlite":
        return connection.execute(statement, params)
    cached = _COMPILED.get(id(statement))
    compiled = cached[1] if cached is not None else _compiled(connection, statement)
    if compiled is None:
        return connection.execute(statement, params)
    literals = compiled.literals
    values = [params[name] if name in params else literals[name] for name in compiled.names]
    cursor = connection.connection.dbapi_connection.execute(compiled.sql, values)  # type: ignore[union-attr]
    rows = cursor.fetchall()
    if compiled.processors:
        rows = [_processed(row, compiled.processors) for row in rows]
    return IteratorResult(compiled.metadata, iter(rows))


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
