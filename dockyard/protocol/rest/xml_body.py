"""The body codec of rest-xml: elements named by each member's ``locationName``, lists wrapped
(``<member>``, or the member shape's name) unless ``flattened``, maps as ``<entry><key/><value/>``,
timestamps ISO 8601 unless a member's ``timestampFormat`` says otherwise, booleans as
``true``/``false``. Errors are the ``<ErrorResponse><Error>`` document S3 Control answers with.

Parsing walks the input shape over the element tree and converts text to each member's type;
text that is no number, boolean or timestamp is a ``SerializationException``, so the shared
validator then sees typed values exactly as it does for JSON.
"""

from __future__ import annotations

import datetime
from typing import Any
from xml.etree import ElementTree

from botocore.model import ListShape, MapShape, Shape, StructureShape

from dockyard.errors import SerializationException

_MOST_BODY_BYTES = 1 << 20  # the endpoint's cap; XML entities must not grow past it either


class XmlBody:
    """rest-xml bodies of one service (``namespace``: its ``xmlNamespace`` URI, if it has one)."""

    content_type = "application/xml"

    def __init__(self, namespace: str | None = None, host_id: str = "dockyard") -> None:
        self.namespace = namespace
        self.host_id = host_id

    def parse(self, body: bytes, shape: StructureShape) -> dict[str, Any]:
        if not body.strip():
            return {}
        if b"<!DOCTYPE" in body or b"<!ENTITY" in body:  # no entity expansion, ever
            raise SerializationException("XML documents with a DOCTYPE are not accepted.")
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError as error:
            raise SerializationException(f"The XML you provided was not well-formed: {error}") from None
        value = _read(root, shape, "")
        return value if isinstance(value, dict) else {}

    def serialize(self, shape: StructureShape | None, value: dict[str, Any]) -> bytes:
        if shape is None:
            return b""
        root = ElementTree.Element(shape.serialization.get("name", shape.name))
        if self.namespace:
            root.set("xmlns", self.namespace)
        _write_members(root, shape, value)
        return _document(root)

    def error(self, code: str, message: str, members: dict[str, Any], request_id: str = "") -> bytes:
        root = ElementTree.Element("ErrorResponse")
        error = ElementTree.SubElement(root, "Error")
        ElementTree.SubElement(error, "Code").text = code
        ElementTree.SubElement(error, "Message").text = message
        for name, item in members.items():
            if item is not None:
                ElementTree.SubElement(error, name).text = str(item)
        ElementTree.SubElement(root, "RequestId").text = request_id
        ElementTree.SubElement(root, "HostId").text = self.host_id
        return _document(root)


def _document(root: ElementTree.Element) -> bytes:
    text: bytes = ElementTree.tostring(root, encoding="utf-8")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + text


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _wire_name(name: str, member: Shape) -> str:
    return str(member.serialization.get("name", name))


def _read(node: ElementTree.Element, shape: Shape, path: str) -> Any:
    if isinstance(shape, StructureShape):
        children: dict[str, list[ElementTree.Element]] = {}
        for child in node:
            children.setdefault(_local(child.tag), []).append(child)
        value: dict[str, Any] = {}
        for name, member in shape.members.items():
            if member.serialization.get("location"):
                continue  # header, query string or URI: not the body's
            found = children.get(_wire_name(name, member))
            if not found:
                continue
            member_path = f"{path}.{name}" if path else name
            if isinstance(member, ListShape) and member.serialization.get("flattened"):
                value[name] = [_read(item, member.member, member_path) for item in found]
            else:
                value[name] = _read(found[0], member, member_path)
        return value
    if isinstance(shape, ListShape):
        wanted = shape.member.serialization.get("name", "member")
        return [_read(item, shape.member, path) for item in node if _local(item.tag) == wanted]
    if isinstance(shape, MapShape):
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        entries: dict[str, Any] = {}
        for entry in node:
            parts = {_local(child.tag): child for child in entry}  # namespaced like the rest
            key, item = parts.get(key_name), parts.get(value_name)
            if key is not None and item is not None:
                entries[key.text or ""] = _read(item, shape.value, path)
        return entries
    return _scalar(node.text or "", shape, path)


def _scalar(text: str, shape: Shape, path: str) -> Any:
    kind = shape.type_name
    text = text.strip() if kind != "string" else text
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise SerializationException(
                f"Value '{text}' at '{path}' can not be converted to an Integer"
            ) from None
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise SerializationException(
                f"Value '{text}' at '{path}' can not be converted to a Double"
            ) from None
    if kind == "boolean":
        if text not in ("true", "false"):
            raise SerializationException(f"Value '{text}' at '{path}' can not be converted to a Boolean")
        return text == "true"
    if kind == "timestamp":
        return parse_timestamp(text, path)
    return text


def parse_timestamp(text: str, path: str = "") -> float:
    """ISO 8601 (what botocore sends for rest-xml) or epoch seconds, as epoch seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SerializationException(
            f"Value '{text}' at '{path}' can not be converted to a Timestamp"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def _write_members(parent: ElementTree.Element, shape: StructureShape, value: dict[str, Any]) -> None:
    for name, member in shape.members.items():
        item = value.get(name)
        if item is None or member.serialization.get("location"):
            continue
        wire = _wire_name(name, member)
        if isinstance(member, ListShape) and member.serialization.get("flattened"):
            for element in item:
                _write(ElementTree.SubElement(parent, wire), member.member, element)
        else:
            _write(ElementTree.SubElement(parent, wire), member, item)


def _write(node: ElementTree.Element, shape: Shape, value: Any) -> None:
    if isinstance(shape, StructureShape):
        _write_members(node, shape, value)
    elif isinstance(shape, ListShape):
        wanted = shape.member.serialization.get("name", "member")
        for item in value:
            _write(ElementTree.SubElement(node, wanted), shape.member, item)
    elif isinstance(shape, MapShape):
        for key, item in value.items():
            entry = ElementTree.SubElement(node, "entry")
            ElementTree.SubElement(entry, shape.key.serialization.get("name", "key")).text = str(key)
            _write(
                ElementTree.SubElement(entry, shape.value.serialization.get("name", "value")),
                shape.value,
                item,
            )
    elif shape.type_name == "boolean":
        node.text = "true" if value else "false"
    elif shape.type_name == "timestamp":
        node.text = format_timestamp(value, shape.serialization.get("timestampFormat", "iso8601"))
    else:
        node.text = str(value)


def format_timestamp(value: Any, form: str = "iso8601") -> str:
    moment = (
        value
        if isinstance(value, datetime.datetime)
        else datetime.datetime.fromtimestamp(float(value), tz=datetime.UTC)
    )
    if form == "unixTimestamp":
        return str(int(moment.timestamp()))
    if form == "rfc822":
        return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
