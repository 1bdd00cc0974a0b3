"""Slow and abusive clients: heads and bodies have deadlines, connections are capped overall
and per client address, and signed requests are answered meanwhile (issue 10, item 2)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import ADMIN_KEY_ID, ADMIN_SECRET, Credentials, DockyardServer

HALF_HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
ADMIN = Credentials(ADMIN_KEY_ID, ADMIN_SECRET, "123456789012")


def half_body() -> bytes:
    """A request signed with a valid key whose body never comes whole (100 bytes announced,
    one sent): it passes every check the head allows, and then waits for its body."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    request = AWSRequest(
        method="POST",
        url="http://x/",
        data=b"{}",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters",
        },
    )
    SigV4Auth(BotoCredentials(ADMIN_KEY_ID, ADMIN_SECRET), "ecs", "us-east-1").add_auth(request)
    lines = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
    return f"POST / HTTP/1.1\r\nHost: x\r\n{lines}Content-Length: 100\r\n\r\n{{".encode()


def _server(tmp_path: Path, *options: str) -> Iterator[DockyardServer]:
    instance = DockyardServer(data_dir=tmp_path, extra_args=options).start()
    yield instance
    instance.stop()


@pytest.fixture
def impatient(tmp_path: Path) -> Iterator[DockyardServer]:
    yield from _server(tmp_path, "--header-timeout", "1", "--body-timeout", "1")


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[DockyardServer]:
    yield from _server(tmp_path, "--max-connections-per-client", "20")


def _open(port: int, data: bytes, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60, source_address=(source, 0))
    sock.sendall(data)
    return sock


def _ends_without_reply(sock: socket.socket) -> bool:
    """Whether the server closes the connection (waiting as long as that takes) having sent
    nothing."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    finally:
        sock.close()


def test_a_request_head_that_never_ends_is_cut_off(impatient: DockyardServer) -> None:
    assert _ends_without_reply(_open(impatient.port, HALF_HEAD))


def test_a_request_body_that_never_ends_is_cut_off(impatient: DockyardServer) -> None:
    assert _ends_without_reply(_open(impatient.port, half_body()))


def test_a_head_without_end_is_cut_off_at_its_size_limit(capped: DockyardServer) -> None:
    sock = _open(capped.port, HALF_HEAD)
    try:
        for _ in range(100):
            sock.sendall(b"X-Padding: " + b"p" * 1000 + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # cut off while sending: what is wanted
    assert _ends_without_reply(sock)


def test_one_address_cannot_hold_more_than_its_share(capped: DockyardServer) -> None:
    held = [_open(capped.port, HALF_HEAD, source="127.0.0.2") for _ in range(20)]
    try:
        assert _ends_without_reply(_open(capped.port, HALF_HEAD, source="127.0.0.2"))
        admin = capped.client(ADMIN)
        assert "clusterArns" in admin.list_clusters()  # another address is still served
    finally:
        for sock in held:
            sock.close()


def test_signed_requests_are_answered_while_three_thousand_half_sent_requests_wait(
    capped: DockyardServer,
) -> None:
    sources = [f"127.0.1.{n}" for n in range(1, 151)]  # 150 addresses x 20: each at its cap
    request = half_body()
    held = [_open(capped.port, request, source=source) for source in sources for _ in range(20)]
    try:
        admin = capped.client(ADMIN)
        took = []
        for _ in range(200):
            started = time.perf_counter()
            admin.list_clusters()
            took.append(time.perf_counter() - started)
        took.sort()
        print(
            f"signed ListClusters with {len(held)} half-sent requests held: p50 "
            f"{took[100] * 1000:.1f} ms, p99 {took[197] * 1000:.1f} ms"
        )
    finally:
        for sock in held:
            sock.close()


def test_a_long_body_that_keeps_a_decent_rate_outlives_the_body_deadline(impatient: DockyardServer) -> None:
    """A 3 MiB upload through the S3 gateway paced over more than the 1 s body deadline (each
    piece earns time) is stored whole."""
    import http.client

    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials as BotoCredentials

    s3 = boto3.client(
        "s3",
        endpoint_url=impatient.endpoint,
        region_name="us-east-1",
        aws_access_key_id=ADMIN_KEY_ID,
        aws_secret_access_key=ADMIN_SECRET,
        config=Config(s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket="paced")
    piece, pieces = b"p" * (256 * 1024), 12
    headers = {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", "Content-Length": str(len(piece) * pieces)}
    request = AWSRequest(method="PUT", url=f"{impatient.endpoint}/paced/object", headers=headers)
    SigV4Auth(BotoCredentials(ADMIN_KEY_ID, ADMIN_SECRET), "s3", "us-east-1").add_auth(request)

    def paced() -> Iterator[bytes]:
        for _ in range(pieces):
            yield piece
            time.sleep(0.1)  # the pace is the scenario: 2.5 MiB/s for 1.2 s

    connection = http.client.HTTPConnection("127.0.0.1", impatient.port, timeout=30)
    try:
        connection.request("PUT", "/paced/object", body=paced(), headers=dict(request.headers.items()))
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    assert s3.head_object(Bucket="paced", Key="object")["ContentLength"] == len(piece) * pieces
