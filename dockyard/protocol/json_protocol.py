"""The AWS JSON 1.1 wire protocol: request body to parameters, result or error to bytes.

Nothing here knows ECS. Timestamps leave as epoch seconds; members whose value is None are
left out, as AWS does.
"""

from __future__ import annotations

import datetime
from typing import Any

import orjson

from dockyard.errors import ApiError, InvalidParameterException, SerializationException

CONTENT_TYPE = "application/x-amz-json-1.1"


def parse_body(body: bytes) -> dict[str, Any]:
    """The request parameters; SerializationException when the body is not a JSON object."""
    if not body.strip():
        return {}
    try:
        params = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SerializationException("Unable to parse the request body as JSON.") from None
    if not isinstance(params, dict):
        raise SerializationException("Start of list found where not expected")
    # A NUL can only arrive escaped; the scan of the bytes keeps the walk off the hot path.
    if b"\\u0000" in body and _has_nul(params):
        raise InvalidParameterException("Strings must not contain the NUL character (U+0000).")
    return params


def _has_nul(params: dict[str, Any]) -> bool:
    """Whether a key or string anywhere in ``params`` holds a NUL (PostgreSQL can store none,
    so both stores refuse them alike). A loop, not recursion: JSON may nest 1,024 deep."""
    pending: list[Any] = [params]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    raise TypeError(f"not serializable: {type(value).__name__}")


def serialize_result(result: dict[str, Any] | None) -> bytes:
    # Passthrough: orjson would write datetimes as ISO strings; AWS JSON wants epoch seconds.
    # Written as it is first: most results hold no None, and orjson writes a whole document in
    # less time than the walk that drops the None members takes (a "null" inside a string only
    # sends it through the walk too).
    body = orjson.dumps(result or {}, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME)
    if b"null" not in body:
        return body
    return orjson.dumps(_without_none(result or {}), default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME)


def serialize_error(error: ApiError) -> bytes:
    return orjson.dumps({"__type": error.code, "message": error.message})


def _without_none(value: Any) -> Any:
    # Scalars are copied without a call each: a page of 100 ARNs is one list comprehension.
    if isinstance(value, dict):
        return {
            key: _without_none(item) if isinstance(item, _CONTAINERS) else item
            for key, item in value.items()
            if item is not None
        }
    if isinstance(value, list):
        return [_without_none(item) if isinstance(item, _CONTAINERS) else item for item in value]
    return value


_CONTAINERS = (dict, list)
