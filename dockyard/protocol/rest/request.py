"""A REST request to the operation's parameters, by walking its input shape.

Members bound to the URI (``location: uri``), the query string, one header or a header
prefix are read from there and converted from text to their shape's type; the rest come from
the body, decoded by the protocol's body codec (JSON for rest-json, XML for rest-xml), or the
whole body is the ``payload`` member when the input shape names one.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import parse_qs

from botocore.model import OperationModel, Shape, StructureShape

from dockyard.errors import SerializationException
from dockyard.protocol.http import HttpRequest


class BodyCodec(Protocol):
    """How one REST protocol writes bodies (``json_body`` for rest-json)."""

    content_type: str

    def parse(self, body: bytes, shape: StructureShape) -> dict[str, Any]:
        """The body members of ``shape`` in a request body (empty body: no members)."""

    def serialize(self, shape: StructureShape | None, value: dict[str, Any]) -> bytes:
        """``value`` as a response body of ``shape``; timestamps in the protocol's format."""

    def error(self, code: str, message: str, members: dict[str, Any], request_id: str = "") -> bytes:
        """The body of an error response (rest-xml's carries the request id)."""


def query_params(query: str) -> dict[str, list[str]]:
    return parse_qs(query, keep_blank_values=True)


def parse_request(
    operation: OperationModel,
    labels: dict[str, str],
    http: HttpRequest,
    query: dict[str, list[str]],
    codec: BodyCodec,
) -> dict[str, Any]:
    """The request's parameters as the input shape names them (wire types converted)."""
    shape = operation.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    payload = shape.serialization.get("payload")
    body_members = False
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire in labels:
                params[name] = _scalar(member, labels[wire], name)
        elif location == "querystring":
            value = _query_member(member, wire, query, name)
            if value is not None:
                params[name] = value
        elif location == "header":
            if wire.lower() in http.headers:
                params[name] = _scalar(member, http.headers[wire.lower()], name)
        elif location == "headers":
            prefix = wire.lower()
            found = {
                key[len(prefix) :]: value for key, value in http.headers.items() if key.startswith(prefix)
            }
            if found:
                params[name] = found
        elif name == payload:
            value = _payload(member, http.body, codec)
            if value is not None:
                params[name] = value
        else:
            body_members = True
    if body_members and payload is None:
        for name, value in codec.parse(http.body, shape).items():
            if name in shape.members and shape.members[name].serialization.get("location") is None:
                params[name] = value
    return params


def _payload(member: Shape, body: bytes, codec: BodyCodec) -> Any:
    if isinstance(member, StructureShape):
        return codec.parse(body, member) if body.strip() else None
    if member.type_name == "blob":
        return body
    return body.decode("utf-8", errors="replace") if body else None


def _query_member(member: Shape, wire: str, query: dict[str, list[str]], name: str) -> Any:
    if member.type_name == "map":  # every query key no other member takes
        return None
    values = query.get(wire)
    if not values:
        return None
    if member.type_name == "list":
        item = member.member
        return [_scalar(item, value, name) for value in values]
    return _scalar(member, values[0], name)


def _scalar(shape: Shape, text: str, name: str) -> Any:
    """Text from the URI, the query string or a header, as its shape's type."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        raise SerializationException(f"Value '{text}' at '{name}' can not be converted to a number") from None
    if kind == "boolean":
        if text not in ("true", "false"):
            raise SerializationException(f"Value '{text}' at '{name}' can not be converted to a Boolean")
        return text == "true"
    return text
