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
from sqlalchemy import ColumnElement, Connection, Row, Select, tuple_

from dockyard.errors import InvalidParameterException

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
    query: Select[Any],
    keys: Sequence[ColumnElement[Any]],
    *,
    limit: int,
    after: list[Any] | None,
    descending: bool = False,
) -> tuple[list[Row[Any]], list[Any] | None]:
    """One page of ``query`` ordered by ``keys``, starting after ``after``.

    Returns the rows and the position of the last one when more rows follow (else None).
    The ``keys`` must be unique together and indexed, so the page is one range scan.
    """
    if after is not None:
        if len(after) != len(keys):
            raise InvalidParameterException("Invalid nextToken.")
        row_key, position = tuple_(*keys), tuple_(*after)
        query = query.where(row_key < position if descending else row_key > position)
    order = [key.desc() if descending else key.asc() for key in keys]
    rows = list(connection.execute(query.order_by(*order).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]._mapping
    return rows, [last[key] for key in keys]


def page_limit(max_results: int | None, *, default: int = 100, maximum: int = 100) -> int:
    """The page size a List action asked for, within the bounds the ECS reference gives."""
    if max_results is None:
        return default
    if not 1 <= max_results <= maximum:
        raise InvalidParameterException(f"maxResults must be between 1 and {maximum}.")
    return max_results
