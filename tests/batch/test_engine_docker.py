"""One job on real containers (Docker Engine, ``dockyard/busybox``): each item's container gets
its Lambda event and answers on stdout or with its exit code; permanent failures,
temporary-then-succeeded items and exhausted retries end up counted and reported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.batch.conftest import job_request, s3control_client
from tests.batch.test_engine_hollow import put_manifest, read_report, wait_status
from tests.harness import DockyardAgent, DockyardServer, connected_instances
from tests.objectstore.conftest import new_bucket_name, s3_client

pytestmark = [pytest.mark.docker, pytest.mark.agents]

# The item's key and its execution's taskId (<job>-<line>-<execution number>) from the event.
SCRIPT = r"""
key=$(echo "$DOCKYARD_BATCH_EVENT" | sed 's/.*"s3Key":"\([^"]*\)".*/\1/')
task=$(echo "$DOCKYARD_BATCH_EVENT" | sed 's/.*"taskId":"\([^"]*\)".*/\1/')
test -n "$AWS_ACCESS_KEY_ID" && test -n "$AWS_ENDPOINT_URL_S3" || exit 3
case "$key" in
  perm*) echo '{"results":[{"taskId":"'$task'","resultCode":"PermanentFailure","resultString":"refused"}]}' ;;
  temp*) case "$task" in *-1) exit 75 ;; esac
         echo "{\"resultCode\":\"Succeeded\",\"resultString\":\"again $key\"}" ;;
  always*) exit 75 ;;
  *) echo "{\"resultCode\":\"Succeeded\",\"resultString\":\"did $key\"}" ;;
esac
"""


@pytest.fixture(scope="module")
def batch_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockyardServer]:
    """A server whose retries wait milliseconds, not seconds."""
    server = DockyardServer(
        data_dir=Path(tmp_path_factory.mktemp("batch-server")),
        environment={"DOCKYARD_BATCH_BACKOFF_SECONDS": "0.05"},
    ).start()
    yield server
    if server.process is not None:
        server.stop()


def test_a_job_on_real_containers(batch_server: DockyardServer, docker_engine: None, tmp_path: Path) -> None:
    account = batch_server.new_account()
    ecs = batch_server.client(account)
    ecs.create_cluster(clusterName="default")
    agent = DockyardAgent(batch_server, account, tmp_path / "agent", driver="docker").start()
    try:
        connected_instances(ecs, message=agent.log())
        ecs.register_task_definition(
            family="batch-fn",
            containerDefinitions=[
                {
                    "name": "main",
                    "image": "dockyard/busybox:latest",
                    "memory": 32,
                    "essential": True,
                    "command": ["sh", "-c", SCRIPT],
                }
            ],
        )
        s3 = s3_client(batch_server, account)
        bucket = new_bucket_name()
        s3.create_bucket(Bucket=bucket)
        keys = ["ok-1", "perm-1", "temp-1", "always-1", "ok-2"]
        etag = put_manifest(s3, bucket, keys)
        s3control: Any = s3control_client(batch_server, account)
        job_id = s3control.create_job(
            **job_request(
                account.account_id,
                ConfirmationRequired=False,
                Manifest={
                    "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                    "Location": {"ObjectArn": f"arn:aws:s3:::{bucket}/manifest.csv", "ETag": etag},
                },
                Report={
                    "Enabled": True,
                    "Bucket": f"arn:aws:s3:::{bucket}",
                    "Prefix": "reports",
                    "Format": "Report_CSV_20180820",
                    "ReportScope": "AllTasks",
                },
            )
        )["JobId"]
        job = wait_status(s3control, account, job_id, "Complete", "Failed", timeout=240)
        assert job["Status"] == "Complete", job
        summary = job["ProgressSummary"]
        assert (
            summary["TotalNumberOfTasks"],
            summary["NumberOfTasksSucceeded"],
            summary["NumberOfTasksFailed"],
        ) == (5, 3, 2)
        _manifest, rows = read_report(s3, bucket, job_id)
        succeeded = {row[1]: row for row in rows["succeeded"]}
        failed = {row[1]: row for row in rows["failed"]}
        assert succeeded["ok-1"][6] == "did ok-1"
        assert succeeded["temp-1"][6] == "again temp-1"
        assert (failed["perm-1"][4], failed["perm-1"][6]) == ("PermanentFailure", "refused")
        assert failed["always-1"][4] == "TemporaryFailure"
        # always-1 ran once and was retried three times; every other item ran once, temp-1 twice.
        started = ecs.list_tasks(cluster="default", startedBy=f"s3batch:{job_id}", desiredStatus="STOPPED")
        assert len(started["taskArns"]) == 3 + 2 + 4
    finally:
        agent.stop()
