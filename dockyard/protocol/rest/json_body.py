"""The body codec of rest-json: JSON objects, timestamps as epoch seconds unless a member's
``timestampFormat`` says otherwise, members whose value is None left out."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import orjson
from botocore.model import ListShape, MapShape, Shape, StructureShape

from dockyard.protocol import json_protocol

Writer = Callable[[Any], Any]


class Ready(list[Any]):
    """A list a domain method built ready for the wire (no None anywhere in it, timestamps as
    epoch seconds): written as it is instead of walked (a page of 100 summaries)."""


class JsonBody:
    """rest-json bodies; a writer per output shape is compiled on first use (a page of 100
    summaries is then one comprehension per level, not a walk of the model per value)."""

    content_type = "application/json"

    def __init__(self) -> None:
        self._writers: dict[str, Writer | None] = {}

    def parse(self, body: bytes, shape: StructureShape) -> dict[str, Any]:
        return json_protocol.parse_body(body)

    def serialize(self, shape: StructureShape | None, value: dict[str, Any]) -> bytes:
        if shape is None:
            return b"{}"
        writer = self._writer(shape)
        # Passthrough: a datetime anywhere leaves as epoch seconds (orjson would write ISO text).
        return orjson.dumps(
            writer(value) if writer is not None else value,
            default=_epoch,
            option=orjson.OPT_PASSTHROUGH_DATETIME,
        )

    def error(self, code: str, message: str, members: dict[str, Any], request_id: str = "") -> bytes:
        return orjson.dumps({"message": message, **{k: v for k, v in members.items() if v is not None}})

    def _writer(self, shape: Shape) -> Writer | None:
        """What turns a value of ``shape`` into JSON-ready data; None when it is one already."""
        key = shape.name
        if key not in self._writers:
            self._writers[key] = lambda value: self._writers[key](value)  # type: ignore[misc]  # recursion
            self._writers[key] = self._compile(shape)
        return self._writers[key]

    def _compile(self, shape: Shape) -> Writer | None:
        if isinstance(shape, StructureShape):
            members = {name: self._writer(member) for name, member in shape.members.items()}
            writers = {name: writer for name, writer in members.items() if writer is not None}

            def structure(value: dict[str, Any]) -> dict[str, Any]:
                return {
                    name: writers[name](item) if name in writers else item
                    for name, item in value.items()
                    if item is not None
                }

            return structure
        if isinstance(shape, ListShape):
            item_writer = self._writer(shape.member)
            if item_writer is None:
                return None
            return lambda value: value if type(value) is Ready else [item_writer(item) for item in value]
        if isinstance(shape, MapShape):
            value_writer = self._writer(shape.value)
            if value_writer is None:
                return lambda value: {key: item for key, item in value.items() if item is not None}
            return lambda value: {key: value_writer(item) for key, item in value.items() if item is not None}
        if shape.type_name == "timestamp":
            form = shape.serialization.get("timestampFormat", "unixTimestamp")
            if form == "unixTimestamp":  # epoch seconds, as the domain gives them (datetimes: _epoch)
                return None
            return lambda value: _timestamp(value, form)
        return None


def _epoch(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    raise TypeError(f"not serializable: {type(value).__name__}")


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
