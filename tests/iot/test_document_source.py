"""Jobs and templates whose document comes from the account's bucket (``documentSource``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dockyard.iot.errors import InvalidRequestException
from dockyard.iot.jobs.document_source import object_of
from tests.harness import Credentials, DockyardServer
from tests.objectstore.conftest import new_bucket_name, s3_client

DOCUMENT = json.dumps({"operation": "runContainer", "image": "dockyard/busybox", "command": ["true"]})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://s3.amazonaws.com/docs/jobs/patch.json", ("docs", "jobs/patch.json")),
        ("https://s3.eu-west-1.amazonaws.com/docs/a%20b.json", ("docs", "a b.json")),
        ("https://docs.s3.amazonaws.com/jobs/patch.json", ("docs", "jobs/patch.json")),
        ("https://my.docs.s3.us-east-2.amazonaws.com/k", ("my.docs", "k")),
        ("http://127.0.0.1:8080/docs/k", ("docs", "k")),
    ],
    ids=[
        "path-style",
        "regional path-style, encoded key",
        "virtual-hosted",
        "regional virtual-hosted",
        "Dockyard's own",
    ],
)
def test_an_object_url_names_its_bucket_and_key(url: str, expected: tuple[str, str]) -> None:
    assert object_of(url) == expected


@pytest.mark.parametrize(
    "url", ["s3://docs/k", "https://s3.amazonaws.com/docs", "https://s3.amazonaws.com/", "docs/k"]
)
def test_a_url_without_bucket_and_key_is_refused(url: str) -> None:
    with pytest.raises(InvalidRequestException):
        object_of(url)


def _error(call: Any, **kwargs: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def test_a_job_takes_its_document_from_the_accounts_bucket(
    server: DockyardServer, account: Credentials, iot: Any
) -> None:
    s3 = s3_client(server, account)
    bucket = new_bucket_name()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="jobs/patch.json", Body=DOCUMENT.encode())
    source = f"https://s3.amazonaws.com/{bucket}/jobs/patch.json"
    thing = iot.create_thing(thingName="t1")["thingArn"]

    iot.create_job(jobId="from-s3", targets=[thing], documentSource=source)
    assert iot.get_job_document(jobId="from-s3")["document"] == DOCUMENT
    assert iot.describe_job(jobId="from-s3")["documentSource"] == source

    # A template too, and a job made from it.
    own = f"{server.endpoint}/{bucket}/jobs/patch.json"
    template = iot.create_job_template(jobTemplateId="tpl", description="d", documentSource=own)[
        "jobTemplateArn"
    ]
    assert iot.describe_job_template(jobTemplateId="tpl")["document"] == DOCUMENT
    iot.create_job(jobId="from-tpl", targets=[thing], jobTemplateArn=template)
    assert iot.get_job_document(jobId="from-tpl")["document"] == DOCUMENT

    # The object changing later changes no job.
    s3.put_object(Bucket=bucket, Key="jobs/patch.json", Body=b"{}")
    assert iot.get_job_document(jobId="from-s3")["document"] == DOCUMENT

    status, code, message = _error(
        iot.create_job, jobId="gone", targets=[thing], documentSource=source + ".old"
    )
    assert (status, code) == (400, "InvalidRequestException") and "does not exist" in message
    both = {"jobId": "both", "targets": [thing], "document": DOCUMENT, "documentSource": source}
    assert _error(iot.create_job, **both)[:2] == (400, "InvalidRequestException")
    s3.put_object(Bucket=bucket, Key="big.json", Body=b" " * (32 * 1024 + 1))
    status, code, message = _error(
        iot.create_job,
        jobId="big",
        targets=[thing],
        documentSource=f"https://s3.amazonaws.com/{bucket}/big.json",
    )
    assert (status, code) == (400, "InvalidRequestException") and "over 32 KB" in message
    assert {job["jobId"] for job in iot.list_jobs()["jobs"]} == {"from-tpl", "from-s3"}  # refused: none made


def test_another_accounts_bucket_of_the_same_name_is_not_read(
    server: DockyardServer, account: Credentials, iot: Any
) -> None:
    other = server.new_account()
    bucket = new_bucket_name()
    theirs = s3_client(server, other)
    theirs.create_bucket(Bucket=bucket)
    theirs.put_object(Bucket=bucket, Key="secret.json", Body=DOCUMENT.encode())
    thing = iot.create_thing(thingName="t1")["thingArn"]
    source = f"https://s3.amazonaws.com/{bucket}/secret.json"
    assert _error(iot.create_job, jobId="steal", targets=[thing], documentSource=source)[:2] == (
        400,
        "InvalidRequestException",
    )
