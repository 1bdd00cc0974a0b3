"""The AWS JSON 1.1 front-end answers bad requests with AWS's errors, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.harness import raw_call


@pytest.mark.parametrize(
    ("target", "body", "status", "code"),
    [
        ("NoSuchAction", b"{}", 400, "UnknownOperationException"),
        ("CreateCluster", b"{not json", 400, "SerializationException"),
        ("CreateCluster", b"[1, 2]", 400, "SerializationException"),
        ("CreateCluster", b'{"clusterName": 5}', 400, "SerializationException"),
        ("CreateCluster", b'{"tags": {"key": "k"}}', 400, "SerializationException"),
        ("DescribeClusters", b'{"clusters": "a"}', 400, "SerializationException"),
        ("ListClusters", b'{"maxResults": "ten"}', 400, "SerializationException"),
        ("ListClusters", b'{"maxResults": true}', 400, "SerializationException"),
        ("DeleteCluster", b"{}", 400, "InvalidParameterException"),
        ("DescribeClusters", b'{"include": ["EVERYTHING"]}', 400, "InvalidParameterException"),
        ("PutAccountSetting", b'{"name": "taskLongArnFormat"}', 400, "InvalidParameterException"),
    ],
    ids=[
        "an unknown action",
        "malformed JSON",
        "a body that is not an object",
        "a number for a string",
        "a map for a list",
        "a string for a list",
        "a string for an integer",
        "a boolean for an integer",
        "a missing required member",
        "a value outside the enum",
        "a missing value",
    ],
)
def test_bad_requests_get_the_aws_error(
    server: Any, account: Any, target: str, body: bytes, status: int, code: str
) -> None:
    reply = raw_call(server.endpoint, target, body, account)
    assert (reply.status, reply.error_code) == (status, code)
    assert reply.body["message"]
    assert reply.headers["x-amzn-requestid"]
    assert reply.headers["content-type"] == "application/x-amz-json-1.1"


def test_validation_errors_name_every_member_at_fault(server: Any, account: Any) -> None:
    body = b'{"tags": [{"key": "", "value": "' + b"v" * 257 + b'"}]}'
    reply = raw_call(server.endpoint, "CreateCluster", body, account)
    assert reply.error_code == "InvalidParameterException"
    assert reply.body["message"].startswith("2 validation errors detected")
    assert "'tags.1.member.key'" in reply.body["message"]
    assert "'tags.1.member.value'" in reply.body["message"]


def test_an_empty_body_is_an_empty_request(server: Any, account: Any) -> None:
    reply = raw_call(server.endpoint, "ListClusters", b"", account)
    assert reply.status == 200
    assert reply.body == {"clusterArns": []}


def test_a_failed_request_leaves_nothing_behind(ecs: Any) -> None:
    with pytest.raises(ClientError):
        ecs.create_cluster(clusterName="bad", tags=[{"key": "aws:reserved", "value": "x"}])
    assert ecs.list_clusters()["clusterArns"] == []


def test_timestamps_are_epoch_seconds(server: Any, account: Any) -> None:
    reply = raw_call(
        server.endpoint,
        "PutAccountSettingDefault",
        b'{"name": "containerInsights", "value": "enabled"}',
        account,
    )
    assert reply.status == 200
    assert reply.body["setting"]["value"] == "enabled"


def test_every_request_gets_its_own_request_id_in_a_uuids_shape(server: Any, account: Any) -> None:
    import uuid

    ids = [
        raw_call(server.endpoint, "ListClusters", b"{}", account).headers["x-amzn-requestid"]
        for _ in range(3)
    ]
    assert len(set(ids)) == 3
    assert all(str(uuid.UUID(value)) == value for value in ids)
