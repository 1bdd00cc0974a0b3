"""Small SQL expression helpers shared by the domain modules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, literal


def one_of(column: Any, values: Iterable[str]) -> ColumnElement[bool]:
    """``column IN (...)`` for a fixed set of values known when the statement is built.

    ``column.in_(values)`` makes one "expanding" parameter that SQLAlchemy rewrites into the
    SQL on every execution (a cost that showed as a quarter of DescribeClusters); a
    parameter per value keeps the compiled statement as it is.
    """
    return column.in_([literal(value) for value in values])  # type: ignore[no-any-return]
