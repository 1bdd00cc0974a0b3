"""SigV4 as AWS checks it: the scope's service and region, and what the signature must cover
(issue 10, item 6)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from tests.harness import Credentials, raw_call

TARGET = "AmazonEC2ContainerServiceV20141113"


def _send(
    endpoint: str,
    account: Credentials,
    *,
    signed: dict[str, str],
    added: dict[str, str] | None = None,
    service: str = "ecs",
    region: str = "us-east-1",
    body: bytes = b"{}",
) -> tuple[int, dict[str, Any]]:
    """Sign a request with ``signed`` headers for ``service`` and ``region``, then add the
    ``added`` headers after signing, as someone replaying a captured request would."""
    request = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=signed)
    credentials = BotoCredentials(account.access_key_id, account.secret_access_key)
    botocore.auth.SigV4Auth(credentials, service, region).add_auth(request)
    prepared = request.prepare()
    headers = dict(prepared.headers) | (added or {})
    outgoing = urllib.request.Request(prepared.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(outgoing, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


CONTENT = {"Content-Type": "application/x-amz-json-1.1"}


def test_an_unsigned_target_cannot_be_swapped_on_a_captured_request(
    server: Any, account: Credentials
) -> None:
    raw_call(server.endpoint, "CreateCluster", b'{"clusterName": "kept"}', account)
    body = b'{"cluster": "kept"}'
    status, reply = _send(
        server.endpoint, account, signed=CONTENT, added={"X-Amz-Target": f"{TARGET}.DeleteCluster"}, body=body
    )
    assert (status, reply["__type"]) == (403, "InvalidSignatureException"), reply
    assert "x-amz-target" in reply["message"]
    described = raw_call(server.endpoint, "DescribeClusters", b'{"clusters": ["kept"]}', account)
    assert described.body["clusters"][0]["status"] == "ACTIVE"


def test_any_unsigned_x_amz_header_is_refused(server: Any, account: Credentials) -> None:
    signed = CONTENT | {"X-Amz-Target": f"{TARGET}.ListClusters"}
    status, reply = _send(server.endpoint, account, signed=signed, added={"X-Amz-Meta-Extra": "1"})
    assert (status, reply["__type"]) == (403, "InvalidSignatureException"), reply


@pytest.mark.parametrize("service", ["s3", "sts", "ec2"])
def test_a_signature_for_another_service_is_refused(server: Any, account: Credentials, service: str) -> None:
    signed = CONTENT | {"X-Amz-Target": f"{TARGET}.ListClusters"}
    status, reply = _send(server.endpoint, account, signed=signed, service=service)
    assert (status, reply["__type"]) == (403, "InvalidSignatureException"), reply
    assert reply["message"] == "Credential should be scoped to correct service: 'ecs'."


@pytest.mark.parametrize("region", ["xx-nowhere-1", "US-EAST-1", "us-east-1 ", "a" * 40])
def test_a_region_that_does_not_exist_is_refused(server: Any, account: Credentials, region: str) -> None:
    reply = raw_call(server.endpoint, "CreateCluster", b'{"clusterName": "r"}', account, region=region)
    assert (reply.status, reply.error_code) == (403, "InvalidSignatureException"), reply.body
    assert "valid region" in reply.body["message"]


@pytest.mark.parametrize("region", ["eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1"])
def test_every_region_of_every_partition_is_taken(server: Any, account: Credentials, region: str) -> None:
    reply = raw_call(server.endpoint, "ListClusters", b"{}", account, region=region)
    assert reply.status == 200, reply.body
