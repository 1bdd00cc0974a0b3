"""The S3 Batch Operations API through boto3's ``s3control`` (with ``dockyard.clients``'
before-sign hook): idempotent creation, listing, priorities, status requests, tagging, and S3
Control's XML errors for bad input and for other accounts."""

from __future__ import annotations

import uuid
from typing import Any
from xml.etree import ElementTree

import botocore.config
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError

from dockyard import clients
from tests.batch.conftest import job_request, put_default_manifest, register_function, s3control_client
from tests.harness import Credentials, DockyardServer


@pytest.fixture
def fn(server: DockyardServer, account: Credentials, ecs: Any) -> str:
    """The function ``job_request`` names, and the manifest it reads (jobs wait in Suspended)."""
    put_default_manifest(server, account)
    return register_function(ecs)


def error_of(call: Any, **params: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_create_describe_and_list_a_job(s3control: Any, account: Credentials, fn: str) -> None:
    request = job_request(account.account_id, Description="first", Tags=[{"Key": "team", "Value": "a"}])
    job_id = s3control.create_job(**request)["JobId"]
    job = s3control.describe_job(AccountId=account.account_id, JobId=job_id)["Job"]
    assert job["JobId"] == job_id
    assert job["JobArn"] == f"arn:aws:s3:us-east-1:{account.account_id}:job/{job_id}"
    assert (job["Priority"], job["Description"], job["RoleArn"]) == (10, "first", request["RoleArn"])
    assert job["Operation"] == request["Operation"]
    assert job["Manifest"] == request["Manifest"]
    assert job["CreationTime"].year >= 2024
    listed = s3control.list_jobs(AccountId=account.account_id)["Jobs"]
    assert [(item["JobId"], item["Operation"]) for item in listed] == [(job_id, "LambdaInvoke")]
    tags = s3control.get_job_tagging(AccountId=account.account_id, JobId=job_id)["Tags"]
    assert tags == [{"Key": "team", "Value": "a"}]


def test_a_replayed_token_returns_the_same_job_and_another_body_is_refused(
    s3control: Any, account: Credentials, fn: str
) -> None:
    request = job_request(account.account_id)
    first = s3control.create_job(**request)["JobId"]
    assert s3control.create_job(**request)["JobId"] == first
    assert len(s3control.list_jobs(AccountId=account.account_id)["Jobs"]) == 1
    other = dict(request, Priority=11)
    assert error_of(s3control.create_job, **other) == (409, "IdempotencyException")


def test_list_jobs_pages_with_a_keyset_token_and_filters_by_status(
    s3control: Any, account: Credentials, fn: str
) -> None:
    made = {s3control.create_job(**job_request(account.account_id))["JobId"] for _ in range(5)}
    seen: list[str] = []
    token: dict[str, str] = {}
    for _ in range(10):
        page = s3control.list_jobs(AccountId=account.account_id, MaxResults=2, **token)
        assert len(page["Jobs"]) <= 2
        seen += [job["JobId"] for job in page["Jobs"]]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert sorted(seen) == sorted(made)
    one = sorted(made)[0]
    s3control.update_job_status(AccountId=account.account_id, JobId=one, RequestedJobStatus="Cancelled")
    cancelled = s3control.list_jobs(AccountId=account.account_id, JobStatuses=["Cancelling", "Cancelled"])
    assert [job["JobId"] for job in cancelled["Jobs"]] == [one]


def test_priority_and_tags_are_updated(s3control: Any, account: Credentials, fn: str) -> None:
    job_id = s3control.create_job(**job_request(account.account_id))["JobId"]
    answer = s3control.update_job_priority(AccountId=account.account_id, JobId=job_id, Priority=99)
    assert (answer["JobId"], answer["Priority"]) == (job_id, 99)
    assert s3control.describe_job(AccountId=account.account_id, JobId=job_id)["Job"]["Priority"] == 99
    tags = [{"Key": f"k{n}", "Value": str(n)} for n in range(3)]
    s3control.put_job_tagging(AccountId=account.account_id, JobId=job_id, Tags=tags)
    assert s3control.get_job_tagging(AccountId=account.account_id, JobId=job_id)["Tags"] == tags
    s3control.delete_job_tagging(AccountId=account.account_id, JobId=job_id)
    assert s3control.get_job_tagging(AccountId=account.account_id, JobId=job_id)["Tags"] == []
    too_many = [{"Key": f"k{n}", "Value": "v"} for n in range(51)]
    assert error_of(s3control.put_job_tagging, AccountId=account.account_id, JobId=job_id, Tags=too_many) == (
        400,
        "TooManyTagsException",
    )


def test_a_cancelled_job_cannot_be_made_ready_nor_cancelled_again(
    s3control: Any, account: Credentials, fn: str
) -> None:
    job_id = s3control.create_job(**job_request(account.account_id))["JobId"]
    answer = s3control.update_job_status(
        AccountId=account.account_id, JobId=job_id, RequestedJobStatus="Cancelled", StatusUpdateReason="no"
    )
    assert (answer["Status"], answer["StatusUpdateReason"]) == ("Cancelling", "no")
    for wanted in ("Ready", "Cancelled"):
        assert error_of(
            s3control.update_job_status, AccountId=account.account_id, JobId=job_id, RequestedJobStatus=wanted
        ) == (409, "JobStatusException")


def _unvalidated(server: DockyardServer, account: Credentials) -> Any:
    """A client that sends what botocore's own parameter validation would stop."""
    return clients.s3control(
        server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
        config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


BAD_JOBS: list[tuple[str, dict[str, Any], str]] = [
    ("no RoleArn", {"RoleArn": None}, "BadRequestException"),
    ("another account's role", {"RoleArn": "arn:aws:iam::000000000000:role/x"}, "BadRequestException"),
    (
        "Manifest and ManifestGenerator together",
        {
            "ManifestGenerator": {
                "S3JobManifestGenerator": {"SourceBucket": "arn:aws:s3:::src", "EnableManifestOutput": False}
            }
        },
        "BadRequestException",
    ),
    ("neither Manifest nor ManifestGenerator", {"Manifest": None}, "BadRequestException"),
    (
        "a manifest format outside the enum",
        {
            "Manifest": {
                "Spec": {"Format": "CSV"},
                "Location": {"ObjectArn": "arn:aws:s3:::m/k", "ETag": "e"},
            }
        },
        "BadRequestException",
    ),
    (
        "CSV fields without Key",
        {
            "Manifest": {
                "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket"]},
                "Location": {"ObjectArn": "arn:aws:s3:::m/k", "ETag": "e"},
            }
        },
        "BadRequestException",
    ),
    ("a priority below zero", {"Priority": -1}, "BadRequestException"),
    (
        "a function with no task definition",
        {"Operation": {"LambdaInvoke": {"FunctionArn": "nope"}}},
        "BadRequestException",
    ),
    (
        "an operation Dockyard does not run",
        {"Operation": {"S3PutObjectRetention": {"Retention": {"Mode": "GOVERNANCE"}}}},
        "BadRequestException",
    ),
    (
        "two operations",
        {"Operation": {"LambdaInvoke": {"FunctionArn": "batch-fn"}, "S3DeleteObjectTagging": {}}},
        "BadRequestException",
    ),
    ("too many tags", {"Tags": [{"Key": f"k{n}", "Value": "v"} for n in range(51)]}, "BadRequestException"),
    ("an enabled report without a bucket", {"Report": {"Enabled": True}}, "BadRequestException"),
]


@pytest.mark.parametrize(
    ("changes", "code"), [case[1:] for case in BAD_JOBS], ids=[case[0] for case in BAD_JOBS]
)
def test_a_bad_job_is_refused_with_s3_controls_error(
    server: DockyardServer, account: Credentials, fn: str, changes: dict[str, Any], code: str
) -> None:
    client = _unvalidated(server, account)
    request = job_request(account.account_id, **changes)
    assert error_of(client.create_job, **request) == (400, code)
    assert client.list_jobs(AccountId=account.account_id)["Jobs"] == []


def test_unknown_jobs_bad_tokens_and_page_sizes_are_refused(s3control: Any, account: Credentials) -> None:
    missing = str(uuid.uuid4())
    assert error_of(s3control.describe_job, AccountId=account.account_id, JobId=missing) == (
        404,
        "NotFoundException",
    )
    assert error_of(
        s3control.update_job_priority, AccountId=account.account_id, JobId=missing, Priority=1
    ) == (404, "NotFoundException")
    assert error_of(s3control.list_jobs, AccountId=account.account_id, NextToken="bm90LWEtdG9rZW4") == (
        400,
        "InvalidNextTokenException",
    )
    assert (
        error_of(s3control.list_jobs, AccountId=account.account_id, MaxResults=1001)[1]
        == "BadRequestException"
    )


def test_another_account_sees_and_changes_nothing(
    server: DockyardServer, s3control: Any, account: Credentials, fn: str
) -> None:
    job_id = s3control.create_job(**job_request(account.account_id))["JobId"]
    other = server.new_account()
    theirs = s3control_client(server, other)
    assert theirs.list_jobs(AccountId=other.account_id)["Jobs"] == []
    assert error_of(theirs.describe_job, AccountId=other.account_id, JobId=job_id) == (
        404,
        "NotFoundException",
    )
    assert error_of(
        theirs.update_job_status, AccountId=other.account_id, JobId=job_id, RequestedJobStatus="Cancelled"
    ) == (404, "NotFoundException")
    # Naming the other account in x-amz-account-id is refused before anything is looked at.
    assert error_of(theirs.describe_job, AccountId=account.account_id, JobId=job_id) == (403, "AccessDenied")
    assert error_of(theirs.list_jobs, AccountId=account.account_id) == (403, "AccessDenied")
    assert s3control.describe_job(AccountId=account.account_id, JobId=job_id)["Job"]["Priority"] == 10


def _signed_s3(
    server: DockyardServer, account: Credentials, method: str, path: str, headers: dict[str, str]
) -> Any:
    import urllib.error
    import urllib.request

    request = AWSRequest(method=method, url=f"{server.endpoint}{path}", headers=headers)
    S3SigV4Auth(
        BotoCredentials(account.access_key_id, account.secret_access_key), "s3", "us-east-1"
    ).add_auth(request)
    prepared = request.prepare()
    outgoing = urllib.request.Request(prepared.url, headers=dict(prepared.headers), method=method)
    try:
        with urllib.request.urlopen(outgoing, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_errors_are_s3_controls_error_response_document(server: DockyardServer, account: Credentials) -> None:
    status, body = _signed_s3(
        server, account, "GET", f"/v20180820/jobs/{uuid.uuid4()}", {"x-amz-account-id": account.account_id}
    )
    root = ElementTree.fromstring(body)
    assert (status, root.tag) == (404, "ErrorResponse")
    assert root.findtext("Error/Code") == "NotFoundException"
    assert root.findtext("Error/Message")
    assert root.findtext("RequestId") and root.findtext("HostId")
    # No account header at all: refused as another account would be.
    status, body = _signed_s3(server, account, "GET", "/v20180820/jobs", {})
    assert (status, ElementTree.fromstring(body).findtext("Error/Code")) == (403, "AccessDenied")


def test_s3_requests_outside_v20180820_are_not_s3_controls(
    server: DockyardServer, account: Credentials
) -> None:
    status, body = _signed_s3(server, account, "GET", "/some-bucket/v20180820/jobs", {})
    assert status != 200
    assert b"<ErrorResponse" not in body  # S3 Control's document; the S3 gateway answers <Error>
