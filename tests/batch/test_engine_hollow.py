"""The engine over a hollow fleet: a manifest in the store becomes one ECS task per line,
confirmation holds the job in Suspended, outcomes are counted exactly and reported."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from dockyard.agent.hollow_tasks import TaskScript
from tests.batch.conftest import job_request, register_function
from tests.harness import Credentials, DockyardServer, HollowAgents, wait_for
from tests.objectstore.conftest import new_bucket_name, s3_client


def put_manifest(s3: Any, bucket: str, keys: list[str], name: str = "manifest.csv") -> str:
    """A CSV manifest of ``keys`` in ``bucket``; its ETag."""
    body = "".join(f"{bucket},{key}\n" for key in keys).encode()
    return str(s3.put_object(Bucket=bucket, Key=name, Body=body)["ETag"]).strip('"')


def job_of(s3control: Any, account: Credentials, job_id: str) -> dict[str, Any]:
    return dict(s3control.describe_job(AccountId=account.account_id, JobId=job_id)["Job"])


def wait_status(
    s3control: Any, account: Credentials, job_id: str, *statuses: str, timeout: float = 60
) -> dict[str, Any]:
    return wait_for(
        lambda: (job := job_of(s3control, account, job_id))["Status"] in statuses and job,
        timeout=timeout,
        message=f"job {job_id} never reached {statuses}",
    )


def read_report(s3: Any, bucket: str, job_id: str) -> tuple[dict[str, Any], dict[str, list[list[str]]]]:
    """The report's manifest.json and its rows by TaskExecutionStatus."""
    manifest = json.loads(
        s3.get_object(Bucket=bucket, Key=f"reports/job-{job_id}/manifest.json")["Body"].read()
    )
    rows: dict[str, list[list[str]]] = {}
    for result in manifest["Results"]:
        body = s3.get_object(Bucket=bucket, Key=result["Key"])["Body"].read().decode()
        rows.setdefault(result["TaskExecutionStatus"], []).extend(csv.reader(io.StringIO(body)))
    return manifest, rows


def test_a_manifest_runs_as_tasks_after_confirmation_and_is_reported(
    server: DockyardServer, account: Credentials, ecs: Any, s3control: Any, hollow: HollowAgents
) -> None:
    s3 = s3_client(server, account)
    bucket = new_bucket_name()
    s3.create_bucket(Bucket=bucket)
    keys = [f"in/item {n}+x" for n in range(60)]
    etag = put_manifest(s3, bucket, [key.replace(" ", "%20").replace("+", "%2B") for key in keys])
    ecs.create_cluster(clusterName="batch")
    register_function(ecs)
    hollow.start(4, cluster="batch", script=TaskScript(task_seconds=0.0, fail_rate=0.25), seed=7)
    request = job_request(
        account.account_id,
        Operation={
            "LambdaInvoke": {
                "FunctionArn": "batch-fn",
                "InvocationSchemaVersion": "2.0",
                "UserArguments": {"dockyard:cluster": "batch", "dockyard:maxConcurrency": "10"},
            }
        },
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
    job_id = s3control.create_job(**request)["JobId"]
    job = wait_status(s3control, account, job_id, "Suspended")
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 60
    assert job["SuspendedCause"]
    assert ecs.list_tasks(cluster="batch", desiredStatus="STOPPED")["taskArns"] == []
    s3control.update_job_status(AccountId=account.account_id, JobId=job_id, RequestedJobStatus="Ready")
    job = wait_status(s3control, account, job_id, "Complete", "Failed")
    summary = job["ProgressSummary"]
    assert job["Status"] == "Complete"
    assert summary["NumberOfTasksSucceeded"] + summary["NumberOfTasksFailed"] == 60
    assert 0 < summary["NumberOfTasksFailed"] < 60
    manifest, rows = read_report(s3, bucket, job_id)
    assert manifest["Format"] == "Report_CSV_20180820" and manifest["JobId"] == job_id
    assert len(rows["succeeded"]) == summary["NumberOfTasksSucceeded"]
    assert len(rows["failed"]) == summary["NumberOfTasksFailed"]
    reported = sorted(row[1] for status in rows.values() for row in status)
    assert sorted(key.replace(" ", "%20").replace("+", "%2B") for key in keys) == reported
    assert {row[3] for row in rows["failed"]} == {"failed"}
    assert {row[4] for row in rows["failed"]} == {"PermanentFailure"}
