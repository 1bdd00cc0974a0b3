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


def test_a_bucket_location_is_the_region_it_was_made_in(server: DockyardServer, account: Any) -> None:
    import boto3

    from tests.objectstore.conftest import S3_CONFIG

    home = s3_client(server, account)
    home.create_bucket(Bucket="east")
    assert home.get_bucket_location(Bucket="east")["LocationConstraint"] is None
    away = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="eu-west-1",
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
        config=S3_CONFIG,
    )
    away.create_bucket(Bucket="west", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert away.get_bucket_location(Bucket="west")["LocationConstraint"] == "eu-west-1"
    assert error_of(home.get_bucket_location, Bucket="absent") == ("NoSuchBucket", 404)


@pytest.mark.parametrize(
    "dots", ["..", "%2E%2E", ".", "..%2F.."], ids=["plain", "encoded", "one dot", "encoded slash"]
)
def test_a_key_cannot_climb_out_of_its_bucket_into_another_accounts(
    server: DockyardServer, s3: Any, bucket: str, account: Any, dots: str
) -> None:
    """The backing bucket names are derived from public facts (account id, bucket name): a
    path that a URL library or the store would resolve upwards must never reach one."""
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    from dockyard.objectstore.names import backing_bucket

    s3.put_object(Bucket=bucket, Key="secret", Body=b"A's")
    intruder = server.new_account()
    s3_client(server, intruder).create_bucket(Bucket="mine")
    victim = backing_bucket(account.account_id, bucket)
    for method, path in [
        ("GET", f"/mine/{dots}/{victim}/secret"),
        ("GET", f"/mine/x/{dots}/{dots}/{victim}/secret"),
    ]:
        request = AWSRequest(
            method=method,
            url=f"{server.endpoint}{path}",
            headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
        )
        signer = SigV4Auth(
            BotoCredentials(intruder.access_key_id, intruder.secret_access_key), "s3", "us-east-1"
        )
        signer._normalize_url_path = lambda path: path  # sign the path as sent, as S3 clients do
        signer.add_auth(request)
        try:
            with urllib.request.urlopen(
                urllib.request.Request(request.url, headers=dict(request.headers.items()), method=method),
                timeout=30,
            ) as response:
                answer: tuple[int, bytes] = (response.status, response.read())
        except urllib.error.HTTPError as error:
            answer = (error.code, error.read())
        assert answer[0] == 400 and b"<Code>InvalidURI</Code>" in answer[1], answer
    other = s3_client(server, intruder)
    code = error_of(
        other.copy_object, Bucket="mine", Key="stolen", CopySource=f"mine/{dots}/{victim}/secret"
    )[0]
    # botocore encodes the copy source once more: an encoded dot is then a literal key's name.
    assert code == ("InvalidURI" if "%" not in dots else "NoSuchKey")
    assert error_of(other.head_object, Bucket="mine", Key="stolen")[1] == 404


def test_object_tagging_on_the_embedded_store_is_refused_and_the_object_kept(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="kept.txt", Body=b"the data")
    tagging = {"TagSet": [{"Key": "k", "Value": "v"}]}
    assert error_of(s3.put_object_tagging, Bucket=bucket, Key="kept.txt", Tagging=tagging) == (
        "NotImplemented",
        501,
    )
    assert error_of(s3.delete_object_tagging, Bucket=bucket, Key="kept.txt")[0] == "NotImplemented"
    assert error_of(s3.get_object_tagging, Bucket=bucket, Key="kept.txt")[0] == "NotImplemented"
    assert s3.get_object(Bucket=bucket, Key="kept.txt")["Body"].read() == b"the data"
