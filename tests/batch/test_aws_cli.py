"""The AWS CLI's ``s3control``: botocore sends it to ``<account>.localhost:PORT`` (its endpoint
rules put the account in the host even for ``--endpoint-url``), so this needs that name to
resolve: the test adds an ``/etc/hosts`` line for the test's account and removes it after,
or skips when it may not (glibc does not resolve ``*.localhost`` by itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.batch.conftest import job_request, register_function
from tests.harness import Credentials, DockyardServer

HOSTS = Path("/etc/hosts")


@pytest.fixture
def account_host(account: Credentials) -> Iterator[str]:
    """``<account>.localhost`` resolving to 127.0.0.1 for the test's duration."""
    name = f"{account.account_id}.localhost"
    if not os.access(HOSTS, os.W_OK):
        pytest.skip(f"{HOSTS} is not writable here: {name} cannot be made to resolve for the AWS CLI")
    line = f"127.0.0.1 {name}\n"
    original = HOSTS.read_text()
    HOSTS.write_text(original + ("" if original.endswith("\n") else "\n") + line)
    try:
        yield name
    finally:
        # Only our line goes: another writer's lines since then stay.
        HOSTS.write_text("".join(kept for kept in HOSTS.read_text().splitlines(True) if kept != line))


def test_the_aws_cli_drives_batch_jobs(
    server: DockyardServer, account: Credentials, ecs: Any, s3control: Any, account_host: str, tmp_path: Path
) -> None:
    register_function(ecs)
    job_id = s3control.create_job(**job_request(account.account_id, Description="via boto3"))["JobId"]
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=account.access_key_id,
        AWS_SECRET_ACCESS_KEY=account.secret_access_key,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )
    endpoint = f"http://localhost:{server.port}"
    aws = [
        str(Path(sys.executable).parent / "aws"),
        "s3control",
        "--endpoint-url",
        endpoint,
        "--output",
        "json",
    ]

    def run(*args: str, ok: bool = True) -> Any:
        done = subprocess.run(
            [*aws, *args, "--account-id", account.account_id],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        if not ok:
            return done
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    listed = run("list-jobs")["Jobs"]
    assert [(job["JobId"], job["Description"]) for job in listed] == [(job_id, "via boto3")]
    assert run("update-job-priority", "--job-id", job_id, "--priority", "42")["Priority"] == 42
    assert run("describe-job", "--job-id", job_id)["Job"]["Priority"] == 42
    failed = run("describe-job", "--job-id", "00000000-0000-0000-0000-000000000000", ok=False)
    assert failed.returncode != 0 and "NotFoundException" in failed.stderr
