"""Bucket operations through the gateway with boto3: each account sees only its own buckets."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.harness import DockyardServer
from tests.objectstore.conftest import new_bucket_name, s3_client


def error_of(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_bucket_is_created_listed_headed_and_deleted(s3: Any) -> None:
    name = new_bucket_name()
    created = s3.create_bucket(Bucket=name)
    assert created["Location"] == f"/{name}"
    assert [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]] == [name]
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert error_of(s3.create_bucket, Bucket=name) == ("BucketAlreadyOwnedByYou", 409)
    s3.delete_bucket(Bucket=name)
    assert s3.list_buckets()["Buckets"] == []
    assert error_of(s3.head_bucket, Bucket=name) == ("404", 404)
    assert error_of(s3.delete_bucket, Bucket=name) == ("NoSuchBucket", 404)


def test_a_bucket_with_objects_is_not_deleted(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert error_of(s3.delete_bucket, Bucket=bucket) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)


def test_a_bad_bucket_name_is_refused(s3: Any) -> None:
    assert error_of(s3.create_bucket, Bucket="Bad_Name") == ("InvalidBucketName", 400)


def test_bucket_configuration_is_not_passed_to_the_backing_store(s3: Any, bucket: str) -> None:
    code, status = error_of(s3.put_bucket_policy, Bucket=bucket, Policy='{"Statement": []}')
    assert (code, status) == ("NotImplemented", 501)
    assert error_of(s3.put_bucket_tagging, Bucket=bucket, Tagging={"TagSet": []})[0] == "NotImplemented"


def test_another_account_cannot_see_or_touch_a_bucket_nor_its_objects(
    server: DockyardServer, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"A's data")
    other = s3_client(server, server.new_account())
    assert other.list_buckets()["Buckets"] == []
    assert error_of(other.get_object, Bucket=bucket, Key="secret.txt") == ("NoSuchBucket", 404)
    assert error_of(other.head_object, Bucket=bucket, Key="secret.txt")[1] == 404
    assert error_of(other.list_objects_v2, Bucket=bucket) == ("NoSuchBucket", 404)
    assert error_of(other.put_object, Bucket=bucket, Key="x", Body=b"B") == ("NoSuchBucket", 404)
    assert error_of(other.delete_bucket, Bucket=bucket) == ("NoSuchBucket", 404)
    # The same name is the other account's own, separate bucket.
    other.create_bucket(Bucket=bucket)
    assert "Contents" not in other.list_objects_v2(Bucket=bucket)
    other.put_object(Bucket=bucket, Key="secret.txt", Body=b"B's data")
    code = error_of(
        other.copy_object, Bucket=bucket, Key="stolen", CopySource={"Bucket": bucket, "Key": "absent-in-b"}
    )[0]
    assert code == "NoSuchKey"
    assert s3.get_object(Bucket=bucket, Key="secret.txt")["Body"].read() == b"A's data"
    assert other.get_object(Bucket=bucket, Key="secret.txt")["Body"].read() == b"B's data"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [bucket]
