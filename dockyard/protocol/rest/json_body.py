"""The body codec of rest-json: JSON objects, timestamps as epoch seconds unless a member's
``timestampFormat`` says otherwise, members whose value is None left out."""

from __future__ import annotations

import datetime
from typing import Any

import orjson
from botocore.model import ListShape, MapShape, Shape, StructureShape

from dockyard.protocol import json_protocol


class JsonBody:
    content_type = "application/json"

    def parse(self, body: bytes, shape: StructureShape) -> dict[str, Any]:
        return json_protocol.parse_body(body)

    def serialize(self, shape: StructureShape | None, value: dict[str, Any]) -> bytes:
        if shape is None:
            return b"{}"
        return orjson.dumps(_walk(shape, value))

    def error(self, code: str, message: str, members: dict[str, Any]) -> bytes:
        return orjson.dumps({"message": message, **{k: v for k, v in members.items() if v is not None}})


def _walk(shape: Shape, value: Any) -> Any:
    if isinstance(shape, StructureShape):
        members = shape.members
        return {
            name: _walk(members[name], item) if name in members else item
            for name, item in value.items()
            if item is not None
        }
    if isinstance(shape, ListShape):
        return [_walk(shape.member, item) for item in value]
    if isinstance(shape, MapShape):
        return {key: _walk(shape.value, item) for key, item in value.items() if item is not None}
    if shape.type_name == "timestamp":
        return _timestamp(value, shape.serialization.get("timestampFormat", "unixTimestamp"))
    return value


def _timestamp(value: Any, form: str) -> Any:
    moment = (
        value
        if isinstance(value, datetime.datetime)
        else datetime.datetime.fromtimestamp(float(value), tz=datetime.UTC)
    )
    if form == "iso8601":
        return moment.isoformat().replace("+00:00", "Z")
    if form == "rfc822":
        return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return value if isinstance(value, (int, float)) else moment.timestamp()
