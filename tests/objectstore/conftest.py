"""boto3 S3 clients at the server's own port (path-style), one fresh account per test."""

from __future__ import annotations

import secrets
from typing import Any

import boto3
import botocore.config
import pytest

from tests.harness import Credentials, DockyardServer

S3_CONFIG = botocore.config.Config(
    s3={"addressing_style": "path"},
    signature_version="s3v4",  # presigned URLs too (boto3 presigns with SigV2 unless told)
    retries={"max_attempts": 1},
    connect_timeout=30,
    read_timeout=60,
)


def s3_client(server: DockyardServer, credentials: Credentials, secret: str | None = None) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=secret or credentials.secret_access_key,
        config=S3_CONFIG,
    )


def new_bucket_name() -> str:
    return "b-" + secrets.token_hex(6)


@pytest.fixture
def s3(server: DockyardServer, account: Credentials) -> Any:
    """A boto3 S3 client of a fresh account."""
    return s3_client(server, account)


@pytest.fixture
def bucket(s3: Any) -> str:
    """A new bucket of the test's account."""
    name = new_bucket_name()
    s3.create_bucket(Bucket=name)
    return name
