"""An operation's result to a REST response, by walking its output shape.

Members bound to a header (or a header prefix) and the status code leave the body; a
``payload`` member is the whole body; the others are the body, written by the protocol's
codec. The status is the operation's ``http.responseCode`` (200 when the model gives none).
"""

from __future__ import annotations

import datetime
from typing import Any

from botocore.model import OperationModel, StructureShape

from dockyard.protocol.http import HttpResponse
from dockyard.protocol.rest.request import BodyCodec


def build_response(
    operation: OperationModel, result: dict[str, Any] | None, codec: BodyCodec, request_id: str
) -> HttpResponse:
    result = result or {}
    shape = operation.output_shape
    status = int(operation.http.get("responseCode", 200))
    headers = [("x-amzn-requestid", request_id)]
    if shape is None:
        return HttpResponse(status=status, body=b"", headers=headers)
    body_values: dict[str, Any] = {}
    payload = shape.serialization.get("payload")
    body = b""
    for name, value in result.items():
        member = shape.members.get(name)
        if value is None or member is None:
            continue
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "header":
            headers.append((wire.lower(), _header_text(value)))
        elif location == "headers":
            headers.extend((f"{wire}{key}".lower(), str(item)) for key, item in value.items())
        elif location == "statusCode":
            status = int(value)
        elif name == payload:
            if isinstance(member, StructureShape):
                body = codec.serialize(member, value)
            else:
                body = value if isinstance(value, bytes) else str(value).encode()
        else:
            body_values[name] = value
    if payload is None:
        body = codec.serialize(shape, body_values)
    headers.append(("content-type", codec.content_type))
    return HttpResponse(status=status, body=body, headers=headers)


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return value.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return str(value)
