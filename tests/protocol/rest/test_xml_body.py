"""rest-xml bodies round-trip through botocore's own serializer and parser."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from dockyard.errors import SerializationException
from dockyard.protocol.models import service_model
from dockyard.protocol.rest.xml_body import XmlBody

MODEL = service_model("s3control")
CODEC = XmlBody("http://awss3control.amazonaws.com/doc/2018-08-20/")


def test_a_create_job_body_botocore_writes_is_read_back() -> None:
    params: dict[str, Any] = {
        "AccountId": "123456789012",
        "Operation": {"LambdaInvoke": {"FunctionArn": "fn", "UserArguments": {"a": "b", "c": "d"}}},
        "Report": {"Enabled": True, "Bucket": "arn:aws:s3:::r", "Format": "Report_CSV_20180820"},
        "ClientRequestToken": "t",
        "Priority": 7,
        "RoleArn": "arn:aws:iam::123456789012:role/r",
        "ConfirmationRequired": False,
        "Tags": [{"Key": "k", "Value": ""}, {"Key": "l", "Value": "m"}],
        "Manifest": {
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
            "Location": {"ObjectArn": "arn:aws:s3:::m/k", "ETag": "e"},
        },
    }
    operation = MODEL.operation_model("CreateJob")
    body = create_serializer("rest-xml").serialize_to_request(params, operation)["body"]
    parsed = CODEC.parse(body, operation.input_shape)
    assert parsed == {name: value for name, value in params.items() if name != "AccountId"}


def test_a_describe_job_body_we_write_is_what_botocore_reads() -> None:
    operation = MODEL.operation_model("DescribeJob")
    job = {
        "JobId": "j-123",
        "Status": "Active",
        "Priority": 3,
        "ConfirmationRequired": True,
        "CreationTime": 1_700_000_000.5,
        "ProgressSummary": {
            "TotalNumberOfTasks": 10,
            "NumberOfTasksSucceeded": 4,
            "Timers": {"ElapsedTimeInActiveSeconds": 2},
        },
        "FailureReasons": [{"FailureCode": "c", "FailureReason": "r"}],
        "Operation": {"LambdaInvoke": {"FunctionArn": "fn", "UserArguments": {"a": "b"}}},
    }
    body = CODEC.serialize(operation.output_shape, {"Job": job})
    parsed = create_parser("rest-xml").parse(
        {"body": body, "headers": {}, "status_code": 200}, operation.output_shape
    )["Job"]
    assert parsed["CreationTime"].timestamp() == 1_700_000_000.5
    assert {k: v for k, v in parsed.items() if k != "CreationTime"} == {
        k: v for k, v in job.items() if k != "CreationTime"
    }


def test_an_error_body_is_what_botocore_reads_as_s3_controls() -> None:
    body = CODEC.error("NotFoundException", "no such job", {}, "req-1")
    parsed = create_parser("rest-xml").parse({"body": body, "headers": {}, "status_code": 404}, None)
    assert parsed["Error"] == {"Code": "NotFoundException", "Message": "no such job"}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"


@pytest.mark.parametrize(
    "body",
    [
        b"<CreateJobRequest><Priority>high</Priority></CreateJobRequest>",
        b"<CreateJobRequest><ConfirmationRequired>yes</ConfirmationRequired></CreateJobRequest>",
        b"<CreateJobRequest><Priority>1</Priority>",
        b'<!DOCTYPE x [<!ENTITY a "b">]><CreateJobRequest/>',
    ],
    ids=["a number that is not one", "a boolean that is not one", "not well-formed", "a DOCTYPE"],
)
def test_bad_bodies_are_serialization_errors(body: bytes) -> None:
    with pytest.raises(SerializationException):
        CODEC.parse(body, MODEL.operation_model("CreateJob").input_shape)
