"""Small reads answered on the spot by the connection (``protocol/connections.py``), beside
requests that take the ASGI path: same responses, in order, with HTTP's framing kept."""

from __future__ import annotations

import json
import re
import socket
from typing import Any

from tests.harness import Credentials, DockyardServer

TARGET = "AmazonEC2ContainerServiceV20141113"


def _signed(
    server: DockyardServer, account: Credentials, operation: str, body: Any, extra: str = ""
) -> bytes:
    """One whole signed request, as bytes; ``extra`` header lines go after the signed ones."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    data = json.dumps(body).encode()
    request = AWSRequest(
        method="POST",
        url=f"{server.endpoint}/",
        data=data,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{TARGET}.{operation}"},
    )
    credentials = BotoCredentials(account.access_key_id, account.secret_access_key)
    SigV4Auth(credentials, "ecs", "us-east-1").add_auth(request)
    lines = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
    framing = f"Content-Length: {len(data)}\r\n{extra}"
    head = f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{lines}{framing}\r\n"
    return head.encode() + data


def _replies(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], Any]]:
    """``count`` whole responses read off ``sock`` (bounded by the socket's timeout)."""
    buffer = b""
    replies: list[tuple[int, dict[str, str], Any]] = []
    while len(replies) < count:
        head_end = buffer.find(b"\r\n\r\n")
        if head_end >= 0:
            lines = buffer[:head_end].decode("latin-1").split("\r\n")
            headers = dict(
                (name.lower(), value.strip())
                for name, _, value in (line.partition(":") for line in lines[1:])
            )
            end = head_end + 4 + int(headers["content-length"])
            if len(buffer) >= end:
                status = int(lines[0].split()[1])
                replies.append((status, headers, json.loads(buffer[head_end + 4 : end])))
                buffer = buffer[end:]
                continue
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(replies)} of {count} responses"
        buffer += chunk
    return replies


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def _connect(server: DockyardServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def test_pipelined_reads_and_a_write_are_answered_in_order(
    server: DockyardServer, account: Credentials
) -> None:
    name = "answer-now-pipelined"
    requests = [
        _signed(server, account, "DescribeClusters", {"clusters": [name]}),
        _signed(server, account, "CreateCluster", {"clusterName": name}),  # a write: the ASGI path
        _signed(server, account, "DescribeClusters", {"clusters": [name]}),
        _signed(server, account, "ListClusters", {}),
    ]
    with _connect(server) as sock:
        sock.sendall(b"".join(requests))  # one send: the server parses them back to back
        before, created, after, listed = _replies(sock, 4)
    assert [reply[0] for reply in (before, created, after, listed)] == [200] * 4
    assert before[2]["failures"][0]["reason"] == "MISSING"
    assert created[2]["cluster"]["clusterName"] == name
    assert after[2]["clusters"][0]["status"] == "ACTIVE"  # the read after the write sees it
    assert created[2]["cluster"]["clusterArn"] in listed[2]["clusterArns"]
    request_ids = {reply[1]["x-amzn-requestid"] for reply in (before, created, after, listed)}
    assert len(request_ids) == 4


def test_a_read_answered_on_the_spot_carries_the_usual_headers(
    server: DockyardServer, account: Credentials
) -> None:
    with _connect(server) as sock:
        sock.sendall(_signed(server, account, "ListClusters", {}))
        ((status, headers, body),) = _replies(sock, 1)
    assert status == 200
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", headers["x-amzn-requestid"]
    )
    assert "date" in headers
    assert "clusterArns" in body


def test_a_body_arriving_in_pieces_is_answered_once_whole(
    server: DockyardServer, account: Credentials
) -> None:
    raw = _signed(
        server, account, "DescribeClusters", {"clusters": ["default", "a-cluster-that-is-not-there"]}
    )
    with _connect(server) as sock:
        sock.sendall(raw[:-10])
        sock.sendall(raw[-10:-3])
        sock.sendall(raw[-3:])
        ((status, _, body),) = _replies(sock, 1)
    assert status == 200
    assert {failure["arn"].rsplit("/", 1)[-1] for failure in body["failures"]} >= {
        "a-cluster-that-is-not-there"
    }


def test_connection_close_is_honoured(server: DockyardServer, account: Credentials) -> None:
    with _connect(server) as sock:
        sock.sendall(_signed(server, account, "ListClusters", {}, extra="Connection: close\r\n"))
        ((status, headers, _),) = _replies(sock, 1)
        assert status == 200
        assert headers["connection"] == "close"
        assert _closed(sock)


def test_an_http_1_0_read_is_answered_and_the_connection_closed(
    server: DockyardServer, account: Credentials
) -> None:
    raw = _signed(server, account, "ListClusters", {}).replace(b"POST / HTTP/1.1", b"POST / HTTP/1.0", 1)
    with _connect(server) as sock:
        sock.sendall(raw)
        ((status, headers, _),) = _replies(sock, 1)
        assert status == 200
        assert headers["connection"] == "close"
        assert _closed(sock)


def test_errors_answered_on_the_spot_keep_their_ecs_shape(
    server: DockyardServer, account: Credentials
) -> None:
    wrong_key = Credentials(account.access_key_id, "not-the-secret", account.account_id)
    unsigned = _signed(server, account, "ListClusters", {})
    unsigned = re.sub(rb"Authorization: [^\r]*\r\n", b"", unsigned)
    with _connect(server) as sock:
        sock.sendall(
            _signed(server, wrong_key, "ListClusters", {})
            + _signed(server, account, "DescribeClusters", {"clusters": "not-a-list"})
            + _signed(server, account, "ListClusters", {"maxResults": 0})
            + unsigned
        )
        replies = _replies(sock, 4)
    assert [(status, body["__type"]) for status, _, body in replies] == [
        (403, "InvalidSignatureException"),
        (400, "SerializationException"),
        (400, "InvalidParameterException"),
        (403, "MissingAuthenticationTokenException"),
    ]


def test_a_read_larger_than_the_short_cut_takes_is_answered_too(
    server: DockyardServer, account: Credentials
) -> None:
    names = [f"cluster-that-is-not-there-{index:03}" for index in range(90)]  # ~3 KiB of body
    with _connect(server) as sock:
        sock.sendall(_signed(server, account, "DescribeClusters", {"clusters": names}))
        ((status, _, body),) = _replies(sock, 1)
    assert status == 200
    assert len(body["failures"]) == 90
