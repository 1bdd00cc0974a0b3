"""Large and unusual transfers through the gateway: bodies stream (the server's memory stays
flat for 50 MB), the AWS CLI's ``s3 cp``/``ls`` (multipart above 8 MB), and aws-chunked uploads
as SDKs that sign each chunk send them."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from tests.harness import Credentials, DockyardServer
from tests.objectstore.conftest import s3_client

MIB = 1024 * 1024


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[DockyardServer]:
    instance = DockyardServer(data_dir=tmp_path / "server").start()
    yield instance
    if instance.process is not None:
        instance.stop()


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


class Pattern:
    """A file-like body of ``size`` bytes made on the fly (the test holds none of it)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.position = 0
        self.block = hashlib.sha256(b"dockyard").digest() * 4096  # 128 KiB

    def read(self, amount: int = -1) -> bytes:
        left = self.size - self.position
        amount = left if amount is None or amount < 0 else min(amount, left)
        out = bytearray()
        while len(out) < amount:
            offset = (self.position + len(out)) % len(self.block)
            out += self.block[offset : offset + amount - len(out)]
        self.position += amount
        return bytes(out)

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = (
            offset if whence == 0 else self.position + offset if whence == 1 else self.size + offset
        )
        return self.position

    def tell(self) -> int:
        return self.position

    def digest(self) -> str:
        self.seek(0)
        digest = hashlib.sha256()
        while chunk := self.read(MIB):
            digest.update(chunk)
        self.seek(0)
        return digest.hexdigest()


def test_50_mb_go_up_and_down_through_the_gateway_without_the_server_holding_them(
    own_server: DockyardServer,
) -> None:
    assert own_server.process is not None
    s3 = s3_client(own_server, own_server.new_account())
    s3.create_bucket(Bucket="big")
    s3.put_object(Bucket="big", Key="warm-up", Body=b"w" * MIB)  # the first request's imports and pools
    s3.get_object(Bucket="big", Key="warm-up")["Body"].read()
    before = peak_rss(own_server.process.pid)
    body = Pattern(50 * MIB)
    expected = body.digest()
    s3.put_object(Bucket="big", Key="fifty", Body=body)
    digest = hashlib.sha256()
    for chunk in s3.get_object(Bucket="big", Key="fifty")["Body"].iter_chunks(MIB):
        digest.update(chunk)
    assert digest.hexdigest() == expected
    growth = peak_rss(own_server.process.pid) - before
    assert growth < 16 * MIB, f"the server's peak RSS grew by {growth / MIB:.1f} MiB for a 50 MiB round trip"


def aws(server: DockyardServer, credentials: Credentials, *arguments: str) -> str:
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=credentials.access_key_id,
        AWS_SECRET_ACCESS_KEY=credentials.secret_access_key,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
    )
    result = subprocess.run(
        [str(Path(sys.executable).parent / "aws"), "--endpoint-url", server.endpoint, *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_aws_cli_copies_and_lists(server: DockyardServer, account: Credentials, tmp_path: Path) -> None:
    source = tmp_path / "upload.bin"
    source.write_bytes(os.urandom(10 * MIB))  # above the CLI's 8 MB multipart threshold
    aws(server, account, "s3", "mb", "s3://cli-bucket")
    aws(server, account, "s3", "cp", str(source), "s3://cli-bucket/dir/upload.bin")
    listing = aws(server, account, "s3", "ls", "s3://cli-bucket/dir/")
    assert "upload.bin" in listing and str(10 * MIB) in listing
    assert "cli-bucket" in aws(server, account, "s3", "ls")
    target = tmp_path / "download.bin"
    aws(server, account, "s3", "cp", "s3://cli-bucket/dir/upload.bin", str(target))
    assert target.read_bytes() == source.read_bytes()


def chunked_put(
    server: DockyardServer, credentials: Credentials, path: str, chunks: list[bytes], *, tamper: bool = False
) -> tuple[int, bytes]:
    """PUT ``chunks`` as an aws-chunked body with chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)."""
    sizes = [len(chunk) for chunk in chunks] + [0]
    framing = sum(len(f"{size:x};chunk-signature=".encode()) + 64 + 4 + size for size in sizes)
    headers = {
        "Host": f"127.0.0.1:{server.port}",
        "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(sum(sizes)),
        "Content-Length": str(framing),
    }
    request = AWSRequest(method="PUT", url=server.endpoint + path, headers=headers)
    signer = SigV4Auth(
        BotoCredentials(credentials.access_key_id, credentials.secret_access_key), "s3", "us-east-1"
    )
    signer.add_auth(request)
    amz_date = request.headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    key = signer._sign(f"AWS4{credentials.secret_access_key}".encode(), amz_date[:8])
    for part in ("us-east-1", "s3", "aws4_request"):
        key = signer._sign(key, part)
    previous = request.headers["Authorization"].rsplit("Signature=", 1)[1]
    body = b""
    for chunk in [*chunks, b""]:
        text = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                amz_date,
                scope,
                previous,
                hashlib.sha256(b"").hexdigest(),
                hashlib.sha256(chunk).hexdigest(),
            ]
        )
        previous = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
        sent = chunk[:-1] + b"!" if tamper and chunk else chunk
        body += f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + sent + b"\r\n"
    assert len(body) == framing
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("PUT", path, body=body, headers=dict(request.headers.items()))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_an_aws_chunked_upload_is_stored_decoded(server: DockyardServer, account: Credentials) -> None:
    s3 = s3_client(server, account)
    s3.create_bucket(Bucket="chunked")
    chunks = [os.urandom(65536), os.urandom(65536), os.urandom(1000)]
    status, answer = chunked_put(server, account, "/chunked/object", chunks)
    assert status == 200, answer
    assert s3.get_object(Bucket="chunked", Key="object")["Body"].read() == b"".join(chunks)


def test_an_aws_chunked_upload_with_a_tampered_chunk_is_refused(
    server: DockyardServer, account: Credentials
) -> None:
    s3: Any = s3_client(server, account)
    s3.create_bucket(Bucket="tampered")
    status, answer = chunked_put(server, account, "/tampered/object", [b"a" * 1000, b"b" * 10], tamper=True)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in answer
    assert "Contents" not in s3.list_objects_v2(Bucket="tampered")
