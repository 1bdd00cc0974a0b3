"""Presigned URLs (boto3's generate_presigned_url): a GET and a PUT with no credentials of
their own, refused once expired or when the URL is changed."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.harness import DockyardServer
from tests.objectstore.conftest import s3_client


def fetch(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_a_presigned_get_and_put_work_without_credentials(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="shared/file.txt", Body=b"for whoever has the link")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared/file.txt"})
    assert fetch(url) == (200, b"for whoever has the link")
    upload = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "dropped"})
    assert fetch(upload, "PUT", b"dropped in")[0] == 200
    assert s3.get_object(Bucket=bucket, Key="dropped")["Body"].read() == b"dropped in"


def test_a_changed_presigned_url_is_signature_does_not_match(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a"})
    status, body = fetch(url.replace(f"/{bucket}/a?", f"/{bucket}/b?"))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body


def test_an_expired_presigned_url_is_refused(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="brief", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "brief"}, ExpiresIn=1)
    deadline = time.monotonic() + 60
    status, body = fetch(url)
    while status == 200 and time.monotonic() < deadline:  # until the second has passed
        time.sleep(0.2)
        status, body = fetch(url)
    assert status == 403 and b"Request has expired" in body


def test_a_presigned_url_reaches_only_its_signers_account(
    server: DockyardServer, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="mine", Body=b"A's")
    other = s3_client(server, server.new_account())
    url = other.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "mine"})
    status, body = fetch(url)
    assert status == 404 and b"<Code>NoSuchBucket</Code>" in body


@pytest.mark.parametrize("expires", ["0", "604801", "soon"], ids=["zero", "past seven days", "not a number"])
def test_a_malformed_expiry_is_an_authorization_query_error(s3: Any, bucket: str, expires: str) -> None:
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    start = url.index("X-Amz-Expires=")
    end = url.index("&", start) if "&" in url[start:] else len(url)
    status, body = fetch(url[:start] + f"X-Amz-Expires={expires}" + url[end:])
    assert status == 400 and b"<Code>AuthorizationQueryParametersError</Code>" in body


def test_boto3s_default_sigv2_presigned_urls_work_and_are_checked(
    server: DockyardServer, account: Any, bucket: str
) -> None:
    import boto3
    import botocore.config

    s3 = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
        config=botocore.config.Config(s3={"addressing_style": "path"}),
    )
    s3.put_object(Bucket=bucket, Key="v2 file", Body=b"old style")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "v2 file", "ResponseContentType": "text/plain"}
    )
    assert "AWSAccessKeyId=" in url and "X-Amz-Credential" not in url
    assert fetch(url) == (200, b"old style")
    status, body = fetch(url.replace("text%2Fplain", "text%2Fhtml"))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
