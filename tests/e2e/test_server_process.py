"""The ``dockyard`` command as scripts use it: start, keys, restart, SIGTERM, the AWS CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import BACKENDS, database_url_for
from tests.harness import (
    ADMIN_KEY_ID,
    ADMIN_SECRET,
    Credentials,
    DockyardServer,
    drop_postgres_database,
    raw_call,
)


def dockyard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dockyard", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.fixture(params=BACKENDS)
def fresh_server(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    instance = DockyardServer(data_dir=tmp_path / "data", database_url=database_url_for(request.param))
    yield instance
    if instance.process is not None:
        instance.stop()
    if instance.database_url:
        drop_postgres_database(instance.database_url)


def admin(server: DockyardServer) -> Credentials:
    return Credentials(ADMIN_KEY_ID, ADMIN_SECRET, "123456789012")


def test_state_survives_a_restart(fresh_server: DockyardServer) -> None:
    fresh_server.start()
    ecs = fresh_server.client(admin(fresh_server))
    ecs.create_cluster(clusterName="durable", tags=[{"key": "k", "value": "v"}])
    ecs.put_account_setting(name="taskLongArnFormat", value="disabled")
    assert fresh_server.stop() == 0  # SIGTERM stops it cleanly
    fresh_server.start()
    ecs = fresh_server.client(admin(fresh_server))
    cluster = ecs.describe_clusters(clusters=["durable"], include=["TAGS"])["clusters"][0]
    assert cluster["tags"] == [{"key": "k", "value": "v"}]
    settings = ecs.list_account_settings(name="taskLongArnFormat")["settings"]
    assert settings[0]["value"] == "disabled"


def test_a_page_token_survives_a_restart(fresh_server: DockyardServer) -> None:
    fresh_server.start()
    ecs = fresh_server.client(admin(fresh_server))
    for name in ("a", "b", "c"):
        ecs.create_cluster(clusterName=name)
    token = ecs.list_clusters(maxResults=2)["nextToken"]
    fresh_server.stop()
    fresh_server.start()
    ecs = fresh_server.client(admin(fresh_server))
    assert [a.rsplit("/", 1)[1] for a in ecs.list_clusters(nextToken=token)["clusterArns"]] == ["c"]


def test_first_start_prints_a_new_admin_key_once(tmp_path: Path) -> None:
    server = DockyardServer(data_dir=tmp_path / "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_ADMIN")}
    log = tmp_path / "out.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dockyard",
                "server",
                "--port",
                str(server.port),
                "--data-dir",
                str(server.data_dir),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        server.process = process
        _wait_for(log, "AWS_SECRET_ACCESS_KEY=")
    finally:
        server.stop()
    printed = dict(line.strip().split("=", 1) for line in log.read_text().splitlines() if "AWS_" in line)
    key = Credentials(printed["AWS_ACCESS_KEY_ID"], printed["AWS_SECRET_ACCESS_KEY"], "123456789012")
    server.start()
    try:
        assert raw_call(server.endpoint, "ListClusters", b"{}", key).status == 200
    finally:
        server.stop()
    assert "AWS_SECRET_ACCESS_KEY" not in server.log()


def _wait_for(path: Path, text: str, timeout: float = 120) -> None:
    import time

    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert time.monotonic() < deadline, path.read_text()
        time.sleep(0.05)


def test_key_verbs_create_list_and_revoke(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    created = dockyard("keys", "create", "--data-dir", data, "--account-id", "111122223333", "--user", "ci")
    assert created.returncode == 0, created.stderr
    values = dict(line.split("=", 1) for line in created.stdout.splitlines() if line.startswith("AWS_"))
    listed = dockyard("keys", "list", "--data-dir", data)
    assert values["AWS_ACCESS_KEY_ID"] in listed.stdout and "111122223333" in listed.stdout
    assert values["AWS_SECRET_ACCESS_KEY"] not in listed.stdout  # a secret is shown once only
    server = DockyardServer(data_dir=Path(data)).start()
    try:
        key = Credentials(values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"], "111122223333")
        arn = server.client(key).create_cluster(clusterName="x")["cluster"]["clusterArn"]
        assert ":111122223333:" in arn
        revoked = dockyard("keys", "revoke", values["AWS_ACCESS_KEY_ID"], "--data-dir", data)
        assert revoked.returncode == 0
        assert "Inactive" in dockyard("keys", "list", "--data-dir", data).stdout
    finally:
        server.stop()
    assert dockyard("keys", "revoke", "AKIANOSUCHKEY", "--data-dir", data).returncode != 0


def test_verification_can_be_turned_off_explicitly(tmp_path: Path) -> None:
    server = DockyardServer(data_dir=tmp_path / "data", extra_args=("--no-verify-signatures",)).start()
    try:
        reply = raw_call(server.endpoint, "CreateCluster", b'{"clusterName": "open"}')
        assert reply.status == 200
        assert reply.body["cluster"]["clusterArn"] == "arn:aws:ecs:us-east-1:123456789012:cluster/open"
        anyone = Credentials("AKIAANYONE", "whatever", "")
        west = raw_call(server.endpoint, "ListClusters", b"{}", anyone, region="us-west-2")
        assert west.body == {"clusterArns": []}
    finally:
        server.stop()


def test_the_aws_cli_works_end_to_end(server: DockyardServer, account: Credentials, tmp_path: Path) -> None:
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=account.access_key_id,
        AWS_SECRET_ACCESS_KEY=account.secret_access_key,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )
    aws = [
        str(Path(sys.executable).parent / "aws"),
        "ecs",
        "--endpoint-url",
        server.endpoint,
        "--output",
        "json",
    ]

    def run(*args: str) -> Any:
        done = subprocess.run([*aws, *args], capture_output=True, text=True, env=env, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    created = run("create-cluster", "--cluster-name", "cli", "--tags", "key=via,value=cli")
    assert created["cluster"]["clusterName"] == "cli"
    assert run("list-clusters")["clusterArns"] == [created["cluster"]["clusterArn"]]
    described = run("describe-clusters", "--clusters", "cli", "--include", "TAGS")
    assert described["clusters"][0]["tags"] == [{"key": "via", "value": "cli"}]
    failed = subprocess.run(
        [*aws, "delete-cluster", "--cluster", "nope"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert failed.returncode != 0 and "ClusterNotFoundException" in failed.stderr


def test_sigterm_ends_the_server_with_status_zero(tmp_path: Path) -> None:
    server = DockyardServer(data_dir=tmp_path / "data").start()
    assert server.stop(signal.SIGTERM) == 0


def test_signed_by_a_known_key_of_another_account_sees_nothing(server: DockyardServer) -> None:
    first, second = server.new_account(), server.new_account()
    server.client(first).create_cluster(clusterName="mine")
    with pytest.raises(ClientError):
        server.client(second).update_cluster_settings(
            cluster="mine", settings=[{"name": "containerInsights", "value": "enabled"}]
        )
