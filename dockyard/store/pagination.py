"""Opaque, keyset-based page tokens.

A token holds the sort key of the last item served (a position, not an offset, so every
page is one index range scan) and is sealed with an HMAC over the account, region and the
query it belongs to: a token can be neither forged nor replayed against another account's
data or another query.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Integer, Row, Select, bindparam, tuple_

from dockyard.errors import InvalidParameterException
from dockyard.store import direct

_MAC_BYTES = 16


class PageTokens:
    """Seals and opens nextToken values with the server's secret key."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, payload: bytes, scope: tuple[Any, ...]) -> bytes:
        message = orjson.dumps(scope) + b"\x00" + payload
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def seal(self, position: list[Any], scope: tuple[Any, ...]) -> str:
        """A token for the page after ``position`` of the query identified by ``scope``."""
        payload = orjson.dumps(position)
        raw = self._mac(payload, scope) + payload
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def open(self, token: str, scope: tuple[Any, ...]) -> list[Any]:
        """The position inside ``token``; InvalidParameterException if it is not ours."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
            if hmac.compare_digest(mac, self._mac(payload, scope)):
                position = orjson.loads(payload)
                if isinstance(position, list):
                    return position
        except (ValueError, orjson.JSONDecodeError):
            pass
        raise InvalidParameterException("Invalid nextToken.")


def fetch_page(
    connection: Connection,
    query: Select[Any] | PagedQuery,
    keys: Sequence[ColumnElement[Any]] = (),
    *,
    limit: int,
    after: list[Any] | None,
    descending: bool = False,
    params: dict[str, Any] | None = None,
) -> tuple[list[Row[Any]], list[Any] | None]:
    """One page of ``query`` ordered by ``keys``, starting after ``after``.

    Returns the rows and the position of the last one when more rows follow (else None).
    The ``keys`` must be unique together and indexed, so the page is one range scan. A
    ``PagedQuery`` brings its own keys and takes its filters' values in ``params``.
    """
    prebuilt = isinstance(query, PagedQuery)
    paged = query if isinstance(query, PagedQuery) else PagedQuery(query, keys)
    if after is not None and len(after) != len(paged.keys):
        raise InvalidParameterException("Invalid nextToken.")
    values = dict(params or {}, page_size=limit + 1)
    if after is not None:
        values.update(zip(paged.after_names, after, strict=True))
    statement = paged.statement(after is not None, descending)
    # Only a prebuilt query's statements are worth compiling once for the driver.
    rows = list(
        direct.fetch(connection, statement, values) if prebuilt else connection.execute(statement, values)
    )
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]._mapping
    return rows, [last[key.name] for key in paged.keys]


class PagedQuery:
    """A List action's query (its filters as bind parameters) and its keyset, with the four
    statements a page can need (first or later page, either order) built on first use and
    kept: build it once, at import, and a page costs no statement building."""

    def __init__(self, query: Select[Any], keys: Sequence[ColumnElement[Any]]) -> None:
        self.query = query
        self.keys = tuple(keys)
        self.after_names = tuple(f"page_after_{n}" for n in range(len(self.keys)))
        self._statements: dict[tuple[bool, bool], Select[Any]] = {}

    def statement(self, after: bool, descending: bool) -> Select[Any]:
        statement = self._statements.get((after, descending))
        if statement is None:
            statement = self.query
            if after:
                names = zip(self.after_names, self.keys, strict=True)
                position = tuple_(*(bindparam(name, type_=key.type) for name, key in names))
                row_key = tuple_(*self.keys)
                statement = statement.where(row_key < position if descending else row_key > position)
            order = [key.desc() if descending else key.asc() for key in self.keys]
            statement = statement.order_by(*order).limit(bindparam("page_size", type_=Integer))
            self._statements[(after, descending)] = statement
        return statement


def page_limit(max_results: int | None, *, default: int = 100, maximum: int = 100) -> int:
    """The page size a List action asked for, within the bounds the ECS reference gives."""
    if max_results is None:
        return default
    if not 1 <= max_results <= maximum:
        raise InvalidParameterException(f"maxResults must be between 1 and {maximum}.")
    return max_results
