"""The AWS JSON 1.1 wire protocol: request body to parameters, result or error to bytes.

Nothing here knows ECS. Timestamps leave as epoch seconds; members whose value is None are
left out, as AWS does.
"""

from __future__ import annotations

import datetime
from typing import Any

import orjson

from dockyard.errors import ApiError, SerializationException

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
    return params


def _default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    raise TypeError(f"not serializable: {type(value).__name__}")


def serialize_result(result: dict[str, Any] | None) -> bytes:
    # Passthrough: orjson would write datetimes as ISO strings; AWS JSON wants epoch seconds.
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
