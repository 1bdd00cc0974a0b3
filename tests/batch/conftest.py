"""Fixtures of the batch tests: boto3 ``s3control`` clients (through ``dockyard.clients``) of
the test's account, and builders of CreateJob requests."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest

from dockyard import clients
from tests.harness import CLIENT_CONFIG, Credentials, DockyardServer


def s3control_client(server: DockyardServer, credentials: Credentials) -> Any:
    return clients.s3control(
        server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        config=CLIENT_CONFIG,
    )


@pytest.fixture
def s3control(server: DockyardServer, account: Credentials) -> Any:
    return s3control_client(server, account)


def register_function(ecs: Any, family: str = "batch-fn", image: str = "dockyard/busybox:latest") -> str:
    """A task definition a LambdaInvoke FunctionArn can name; its family."""
    ecs.register_task_definition(
        family=family,
        containerDefinitions=[{"name": "main", "image": image, "memory": 32, "essential": True}],
    )
    return family


# The manifest ``job_request`` names by default: ``put_default_manifest`` writes it, and a job
# over it stays Suspended (ConfirmationRequired) until the test moves it.
DEFAULT_MANIFEST = b"manifests,k\n"


def put_default_manifest(server: DockyardServer, credentials: Credentials) -> None:
    from tests.objectstore.conftest import s3_client

    s3 = s3_client(server, credentials)
    s3.create_bucket(Bucket="manifests")
    s3.put_object(Bucket="manifests", Key="list.csv", Body=DEFAULT_MANIFEST)


def job_request(account_id: str, **changes: Any) -> dict[str, Any]:
    """A CreateJob request of a CSV manifest running ``batch-fn``; ``changes`` replace members."""
    request: dict[str, Any] = {
        "AccountId": account_id,
        "Operation": {"LambdaInvoke": {"FunctionArn": "batch-fn"}},
        "Manifest": {
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
            "Location": {
                "ObjectArn": "arn:aws:s3:::manifests/list.csv",
                "ETag": hashlib.md5(DEFAULT_MANIFEST, usedforsecurity=False).hexdigest(),
            },
        },
        "Report": {"Enabled": False},
        "Priority": 10,
        "RoleArn": f"arn:aws:iam::{account_id}:role/batch",
        "ClientRequestToken": str(uuid.uuid4()),
        "ConfirmationRequired": True,
    }
    request.update(changes)
    return {name: value for name, value in request.items() if value is not None}
