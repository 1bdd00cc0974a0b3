"""Object operations through the gateway with boto3: put, get (ranges), head, list, copy,
delete, multipart; and the requests it refuses (bad signatures, a body that is not the one signed)."""

from __future__ import annotations

import io
import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.harness import Credentials, DockyardServer
from tests.objectstore.conftest import s3_client
from tests.objectstore.test_buckets import error_of


def test_an_object_is_put_read_whole_and_in_ranges_headed_and_deleted(s3: Any, bucket: str) -> None:
    key = "dir/a file+with spaces&signs=ü.txt"
    put = s3.put_object(
        Bucket=bucket, Key=key, Body=b"0123456789", ContentType="text/plain", Metadata={"m": "v"}
    )
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == b"0123456789"
    assert got["ETag"] == put["ETag"]
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"m": "v"}
    ranged = s3.get_object(Bucket=bucket, Key=key, Range="bytes=2-5")
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert ranged["ContentRange"] == "bytes 2-5/10"
    assert ranged["Body"].read() == b"2345"
    assert s3.get_object(Bucket=bucket, Key=key, Range="bytes=-3")["Body"].read() == b"789"
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == 10
    s3.delete_object(Bucket=bucket, Key=key)
    assert error_of(s3.get_object, Bucket=bucket, Key=key) == ("NoSuchKey", 404)
    assert error_of(s3.head_object, Bucket=bucket, Key=key) == ("404", 404)


def test_listing_pages_by_prefix_and_delimiter(s3: Any, bucket: str) -> None:
    keys = ["a/1", "a/2", "a/3", "a/sub/4", "b/5", "top"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert listed["Name"] == bucket
    assert [item["Key"] for item in listed["Contents"]] == ["a/1", "a/2", "a/3"]
    assert [item["Prefix"] for item in listed["CommonPrefixes"]] == ["a/sub/"]
    assert [p["Prefix"] for p in s3.list_objects_v2(Bucket=bucket, Delimiter="/")["CommonPrefixes"]] == [
        "a/",
        "b/",
    ]
    seen, pages = [], 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}):
        seen += [item["Key"] for item in page.get("Contents", [])]
        pages += 1
    assert seen == keys
    assert pages == 3


def test_an_object_is_copied_within_the_account(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="source/ö x", Body=b"payload")
    target = bucket + "-2"
    s3.create_bucket(Bucket=target)
    s3.copy_object(Bucket=target, Key="copy", CopySource={"Bucket": bucket, "Key": "source/ö x"})
    assert s3.get_object(Bucket=target, Key="copy")["Body"].read() == b"payload"
    s3.copy(CopySource={"Bucket": bucket, "Key": "source/ö x"}, Bucket=bucket, Key="managed-copy")
    assert s3.get_object(Bucket=bucket, Key="managed-copy")["Body"].read() == b"payload"


def test_many_objects_are_deleted_at_once(s3: Any, bucket: str) -> None:
    for key in ("x1", "x2", "x3"):
        s3.put_object(Bucket=bucket, Key=key, Body=b".")
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x1"}, {"Key": "x2"}]})
    assert sorted(item["Key"] for item in deleted["Deleted"]) == ["x1", "x2"]
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["x3"]


def test_a_file_above_the_multipart_threshold_goes_up_and_down_in_parts(s3: Any, bucket: str) -> None:
    data = secrets.token_bytes(9 * 1024 * 1024) + b"tail"
    calls: list[str] = []
    s3.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    s3.upload_fileobj(io.BytesIO(data), bucket, "big.bin")
    assert {"CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"} <= set(calls)
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ContentLength"] == len(data)
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big.bin", out)
    assert out.getvalue() == data


def test_a_multipart_upload_is_listed_and_aborted(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parts")
    assert upload["Bucket"] == bucket
    s3.upload_part(Bucket=bucket, Key="parts", UploadId=upload["UploadId"], PartNumber=1, Body=b"p" * 100)
    parts = s3.list_parts(Bucket=bucket, Key="parts", UploadId=upload["UploadId"])
    assert [part["PartNumber"] for part in parts["Parts"]] == [1]
    s3.abort_multipart_upload(Bucket=bucket, Key="parts", UploadId=upload["UploadId"])
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_a_wrong_secret_is_signature_does_not_match(
    server: DockyardServer, account: Credentials, bucket: str
) -> None:
    forger = s3_client(server, account, secret="not-the-secret")
    assert error_of(forger.list_buckets) == ("SignatureDoesNotMatch", 403)
    assert error_of(forger.put_object, Bucket=bucket, Key="x", Body=b"x") == ("SignatureDoesNotMatch", 403)


def test_an_unknown_key_is_invalid_access_key_id(server: DockyardServer) -> None:
    stranger = s3_client(server, Credentials("AKIANOSUCHKEY0000000", "secret", "000000000000"))
    assert error_of(stranger.list_buckets) == ("InvalidAccessKeyId", 403)


def test_a_body_swapped_after_signing_is_refused_and_not_stored(s3: Any, bucket: str) -> None:
    def swap(request: Any, **_: Any) -> None:
        request.body = b"evil data!"  # as long as the signed one

    s3.meta.events.register("before-send.s3.PutObject", swap)
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="swapped", Body=b"good data!")
    assert raised.value.response["Error"]["Code"] == "XAmzContentSHA256Mismatch"
    s3.meta.events.unregister("before-send.s3.PutObject", swap)
    assert error_of(s3.head_object, Bucket=bucket, Key="swapped") == ("404", 404)
