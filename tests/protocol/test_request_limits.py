"""Bounded work per request: list caps as ECS states them, a body limit enforced before the
body is buffered, and strangers refused from their headers (issue 10, item 1)."""

from __future__ import annotations

import json
import re
import socket
from typing import Any

import botocore.session
import pytest

from dockyard.ecs.request_limits import LIST_LIMITS
from dockyard.protocol.endpoint import MAX_BODY_BYTES
from tests.harness import raw_call

TARGET = "AmazonEC2ContainerServiceV20141113"


def _documented_limits() -> list[tuple[str, str, int]]:
    return [
        (operation, path, most)
        for operation, members in LIST_LIMITS.items()
        for path, most in members.items()
    ]


@pytest.mark.parametrize(("operation", "path", "most"), _documented_limits())
def test_every_cap_is_the_one_ecs_documents(operation: str, path: str, most: int) -> None:
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model(operation).input_shape
    for name in path.split("."):
        shape = shape.members[name]
    text = re.sub(r"<[^>]+>", "", shape.documentation)
    assert re.search(rf"(up to|maximum of|limit of) {most}\b", text, re.IGNORECASE), text


@pytest.mark.parametrize(
    ("target", "member", "most", "extra"),
    [
        pytest.param("DescribeClusters", "clusters", 100, {}, id="DescribeClusters takes 100 clusters"),
        pytest.param("DescribeTasks", "tasks", 100, {}, id="DescribeTasks takes 100 tasks"),
        pytest.param(
            "DescribeContainerInstances", "containerInstances", 100, {}, id="DescribeContainerInstances 100"
        ),
        pytest.param(
            "UpdateContainerInstancesState",
            "containerInstances",
            10,
            {"status": "DRAINING"},
            id="UpdateContainerInstancesState takes 10 instances",
        ),
        pytest.param("StartTask", "containerInstances", 10, {"taskDefinition": "x"}, id="StartTask takes 10"),
    ],
)
def test_a_list_longer_than_ecs_takes_is_refused(
    server: Any, account: Any, target: str, member: str, most: int, extra: dict[str, Any]
) -> None:
    raw_call(server.endpoint, "CreateCluster", b"{}", account)
    names = [f"name-{index}" for index in range(most + 1)]
    reply = raw_call(server.endpoint, target, json.dumps({member: names, **extra}).encode(), account)
    assert reply.status == 400 and reply.error_code == "InvalidParameterException", reply.body
    assert f"cannot be longer than {most}" in reply.body["message"]
    allowed = raw_call(server.endpoint, target, json.dumps({member: names[:most], **extra}).encode(), account)
    assert "cannot be longer" not in str(allowed.body)


def _send_head(port: int, head: str, body_start: bytes = b"") -> bytes:
    """Send a request's head (and the start of its body), never the rest; the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head.encode() + body_start)
        reply = b""
        while b"\r\n\r\n" not in reply or not _complete(reply):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        return reply


def _complete(reply: bytes) -> bool:
    head, _, body = reply.partition(b"\r\n\r\n")
    match = re.search(rb"content-length: (\d+)", head, re.I)
    return match is not None and len(body) >= int(match.group(1))


def test_an_unsigned_upload_is_refused_before_its_body_is_read(server: Any) -> None:
    head = (
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
        f"X-Amz-Target: {TARGET}.ListClusters\r\nContent-Length: 200000000\r\n\r\n"
    )
    reply = _send_head(server.port, head, b"{")
    assert reply.startswith(b"HTTP/1.1 403"), reply[:200]
    assert b"MissingAuthenticationTokenException" in reply


def _signed_head(server: Any, account: Any, framing: str) -> str:
    """A request head signed by botocore for ListClusters, with the given framing header."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=b"{}",
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{TARGET}.DescribeClusters"},
    )
    credentials = Credentials(account.access_key_id, account.secret_access_key)
    SigV4Auth(credentials, "ecs", "us-east-1").add_auth(request)
    lines = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
    return f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{lines}{framing}\r\n\r\n"


def test_a_signed_head_declaring_too_long_a_body_is_refused_at_once(server: Any, account: Any) -> None:
    head = _signed_head(server, account, f"Content-Length: {MAX_BODY_BYTES + 1}")
    reply = _send_head(server.port, head, b"{")
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"RequestEntityTooLargeException" in reply


def test_a_streamed_body_is_refused_once_it_grows_past_the_limit(server: Any, account: Any) -> None:
    """200,000 cluster names, chunked (no Content-Length): refused when the limit is passed."""
    names = json.dumps({"clusters": [f"c{index}" for index in range(200_000)]}).encode()
    assert len(names) > MAX_BODY_BYTES
    head = _signed_head(server, account, "Transfer-Encoding: chunked")
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(head.encode())
        try:
            for start in range(0, len(names), 65536):
                piece = names[start : start + 65536]
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body went
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
