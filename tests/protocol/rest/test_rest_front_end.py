"""The REST front-end over the wire: the SigV4 scope's service picks the model, errors carry
``x-amzn-ErrorType`` and the model's status, and nothing answers with a 500."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from tests.harness import Credentials, DockyardServer


def rest_call(
    server: DockyardServer, account: Credentials, service: str, method: str, path: str, body: bytes = b""
) -> tuple[int, dict[str, str], Any]:
    """A request signed for ``service`` (the SigV4 scope), sent as is."""
    request = AWSRequest(method=method, url=f"{server.endpoint}{path}", data=body)
    SigV4Auth(
        BotoCredentials(account.access_key_id, account.secret_access_key), service, "us-east-1"
    ).add_auth(request)
    prepared = request.prepare()
    outgoing = urllib.request.Request(
        prepared.url, data=body or None, headers=dict(prepared.headers), method=method
    )
    try:
        with urllib.request.urlopen(outgoing, timeout=60) as response:
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, dict(error.headers), error.read()
    return status, {k.lower(): v for k, v in headers.items()}, json.loads(raw or b"{}")


@pytest.mark.parametrize(
    ("service", "method", "path"),
    [
        ("iot", "PUT", "/things/t/jobs/$next"),
        ("iot-jobs-data", "GET", "/jobs"),
        ("iot-jobs-data", "POST", "/things/t"),
    ],
    ids=[
        "a device call signed for the control plane",
        "a control-plane call signed for the data plane",
        "CreateThing signed for the data plane",
    ],
)
def test_a_request_reaches_only_the_api_it_was_signed_for(
    server: DockyardServer, account: Credentials, service: str, method: str, path: str
) -> None:
    status, headers, body = rest_call(server, account, service, method, path)
    assert (status, headers["x-amzn-errortype"]) == (400, "UnknownOperationException")
    assert "message" in body


def test_the_same_path_answers_per_signing_service(server: DockyardServer, account: Credentials) -> None:
    rest_call(server, account, "iot", "POST", "/things/both", b"{}")
    control = rest_call(server, account, "iot", "GET", "/things/both/jobs")
    device = rest_call(server, account, "iot-jobs-data", "GET", "/things/both/jobs")
    assert control[2] == {"executionSummaries": []}
    assert device[2] == {"inProgressJobs": [], "queuedJobs": []}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/things/nobody", b"", 404, "ResourceNotFoundException"),
        ("POST", "/things/x", b"{not json", 400, "InvalidRequestException"),
        ("POST", "/things/x", b'{"attributePayload": 5}', 400, "InvalidRequestException"),
        ("GET", "/things?maxResults=ten", b"", 400, "InvalidRequestException"),
        ("GET", "/jobs?status=SOMETIMES", b"", 400, "InvalidRequestException"),
        ("PUT", "/jobs/j", b'{"targets": []}', 400, "InvalidRequestException"),
        ("GET", "/billing-groups", b"", 400, "UnsupportedFeatureException"),
    ],
    ids=[
        "an unknown thing",
        "malformed JSON",
        "a member of the wrong type",
        "a query integer that is not one",
        "a query value outside its enum",
        "a required member missing",
        "an operation of the model Dockyard does not implement",
    ],
)
def test_bad_requests_get_the_models_errors(
    server: DockyardServer, account: Credentials, method: str, path: str, body: bytes, status: int, code: str
) -> None:
    got_status, headers, reply = rest_call(server, account, "iot", method, path, body)
    assert (got_status, headers["x-amzn-errortype"]) == (status, code)
    assert isinstance(reply["message"], str)


def test_a_wrong_signature_is_refused(server: DockyardServer, account: Credentials) -> None:
    forged = Credentials(account.access_key_id, "not-the-secret", account.account_id)
    status, headers, _body = rest_call(server, forged, "iot", "GET", "/things")
    assert (status, headers["x-amzn-errortype"]) == (403, "InvalidSignatureException")
