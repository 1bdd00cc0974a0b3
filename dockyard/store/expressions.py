"""Small SQL expression helpers shared by the domain modules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, bindparam, literal


def one_of(column: Any, values: Iterable[str]) -> ColumnElement[bool]:
    """``column IN (...)`` for a fixed set of values known when the statement is built.

    ``column.in_(values)`` makes one "expanding" parameter that SQLAlchemy rewrites into the
    SQL on every execution (a cost that showed as a quarter of DescribeClusters); a
    parameter per value keeps the compiled statement as it is.
    """
    return column.in_([literal(value) for value in values])  # type: ignore[no-any-return]


def in_params(column: Any, name: str, count: int) -> ColumnElement[bool]:
    """``column IN (:name_0, ..., :name_<count-1>)``: for a statement built once per list
    length (cache it by ``count``), whose values ``in_values`` binds. Unlike an expanding
    parameter, SQLAlchemy then compiles it once, not on every execution."""
    return column.in_([bindparam(f"{name}_{index}", type_=column.type) for index in range(count)])  # type: ignore[no-any-return]


def in_values(name: str, values: Iterable[Any]) -> dict[str, Any]:
    """The parameters of ``in_params(column, name, len(values))``."""
    return {f"{name}_{index}": value for index, value in enumerate(values)}


def padded(values: Sequence[Any]) -> list[Any]:
    """``values`` (at least one) with the last repeated up to the next power of two: for an
    ``in_params`` statement cached by length, a few lengths are built, not every one (a value
    repeated changes no IN)."""
    size = 1 << (len(values) - 1).bit_length()
    return [*values, *[values[-1]] * (size - len(values))]
