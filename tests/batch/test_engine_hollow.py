"""The engine over a hollow fleet: a manifest in the store becomes one ECS task per line,
confirmation holds the job in Suspended, outcomes are counted exactly and reported."""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any

from dockyard.agent.hollow_tasks import TaskScript
from tests.batch.conftest import job_request, register_function, s3control_client
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
    keys = [f"in/item {n}+x" for n in range(500)]
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
                "UserArguments": {"dockyard:cluster": "batch", "dockyard:maxConcurrency": "50"},
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
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 500
    assert job["SuspendedCause"]
    assert ecs.list_tasks(cluster="batch", desiredStatus="STOPPED")["taskArns"] == []
    s3control.update_job_status(AccountId=account.account_id, JobId=job_id, RequestedJobStatus="Ready")
    job = wait_status(s3control, account, job_id, "Complete", "Failed", timeout=180)
    summary = job["ProgressSummary"]
    assert job["Status"] == "Complete"
    assert summary["NumberOfTasksSucceeded"] + summary["NumberOfTasksFailed"] == 500
    assert 0 < summary["NumberOfTasksFailed"] < 500
    manifest, rows = read_report(s3, bucket, job_id)
    assert manifest["Format"] == "Report_CSV_20180820" and manifest["JobId"] == job_id
    assert len(rows["succeeded"]) == summary["NumberOfTasksSucceeded"]
    assert len(rows["failed"]) == summary["NumberOfTasksFailed"]
    reported = sorted(row[1] for status in rows.values() for row in status)
    assert sorted(key.replace(" ", "%20").replace("+", "%2B") for key in keys) == reported
    assert {row[3] for row in rows["failed"]} == {"failed"}
    assert {row[4] for row in rows["failed"]} == {"PermanentFailure"}


def lambda_job(account: Credentials, bucket: str, etag: str, **changes: Any) -> dict[str, Any]:
    """A CreateJob request over ``bucket``'s manifest.csv, run on cluster ``batch``."""
    given: dict[str, Any] = {
        "ConfirmationRequired": False,
        "Operation": {
            "LambdaInvoke": {
                "FunctionArn": "batch-fn",
                "InvocationSchemaVersion": "2.0",
                "UserArguments": {"dockyard:cluster": "batch"},
            }
        },
        "Manifest": {
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
            "Location": {"ObjectArn": f"arn:aws:s3:::{bucket}/manifest.csv", "ETag": etag},
        },
    }
    return job_request(account.account_id, **{**given, **changes})


def test_a_cancel_mid_run_stops_the_tasks(
    server: DockyardServer, account: Credentials, ecs: Any, s3control: Any, hollow: HollowAgents
) -> None:
    s3 = s3_client(server, account)
    bucket = new_bucket_name()
    s3.create_bucket(Bucket=bucket)
    etag = put_manifest(s3, bucket, [f"k{n}" for n in range(30)])
    ecs.create_cluster(clusterName="batch")
    register_function(ecs)
    hollow.start(2, cluster="batch")  # tasks run until they are told to stop
    job_id = s3control.create_job(**lambda_job(account, bucket, etag))["JobId"]
    wait_for(
        lambda: len(ecs.list_tasks(cluster="batch", startedBy=f"s3batch:{job_id}")["taskArns"]) >= 10,
        message="the job's tasks never started",
    )
    s3control.update_job_status(AccountId=account.account_id, JobId=job_id, RequestedJobStatus="Cancelled")
    job = wait_status(s3control, account, job_id, "Cancelled")
    assert job["TerminationDate"] is not None
    wait_for(
        lambda: ecs.list_tasks(cluster="batch", startedBy=f"s3batch:{job_id}")["taskArns"] == [],
        message="the cancelled job's tasks kept running",
    )
    assert (
        error_code(
            s3control.update_job_status,
            AccountId=account.account_id,
            JobId=job_id,
            RequestedJobStatus="Ready",
        )
        == "JobStatusException"
    )


REPORT = {"Enabled": True, "Prefix": "reports", "Format": "Report_CSV_20180820", "ReportScope": "AllTasks"}


def test_a_cancelled_job_reports_the_tasks_done_so_far(
    server: DockyardServer, account: Credentials, ecs: Any, s3control: Any, hollow: HollowAgents
) -> None:
    s3 = s3_client(server, account)
    bucket = new_bucket_name()
    s3.create_bucket(Bucket=bucket)
    etag = put_manifest(s3, bucket, [f"k{n}" for n in range(400)])
    ecs.create_cluster(clusterName="batch")
    register_function(ecs)
    hollow.start(2, cluster="batch", script=TaskScript(task_seconds=0.2))
    operation = lambda_job(account, bucket, etag)["Operation"]
    operation["LambdaInvoke"]["UserArguments"]["dockyard:maxConcurrency"] = "4"
    report = dict(REPORT, Bucket=f"arn:aws:s3:::{bucket}")
    job_id = s3control.create_job(**lambda_job(account, bucket, etag, Operation=operation, Report=report))[
        "JobId"
    ]
    wait_for(
        lambda: job_of(s3control, account, job_id)["ProgressSummary"].get("NumberOfTasksSucceeded", 0) >= 5,
        timeout=120,
        message="no items succeeded",
    )
    s3control.update_job_status(AccountId=account.account_id, JobId=job_id, RequestedJobStatus="Cancelled")
    job = wait_status(s3control, account, job_id, "Cancelled")
    summary = job["ProgressSummary"]
    assert 5 <= summary["NumberOfTasksSucceeded"] < 400
    manifest, rows = read_report(s3, bucket, job_id)
    assert manifest["JobId"] == job_id
    assert len(rows["succeeded"]) == summary["NumberOfTasksSucceeded"]
    assert {row[3] for row in rows["succeeded"]} == {"succeeded"}

    # A job cancelled before any task ran has nothing to report (as on S3).
    idle = s3control.create_job(
        **lambda_job(account, bucket, etag, Report=report, ConfirmationRequired=True)
    )["JobId"]
    wait_status(s3control, account, idle, "Suspended")
    s3control.update_job_status(AccountId=account.account_id, JobId=idle, RequestedJobStatus="Cancelled")
    wait_status(s3control, account, idle, "Cancelled")
    assert s3.list_objects_v2(Bucket=bucket, Prefix=f"reports/job-{idle}/").get("Contents", []) == []


def error_code(call: Any, **params: Any) -> str:
    from botocore.exceptions import ClientError

    try:
        call(**params)
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    raise AssertionError("the call succeeded")


def test_update_job_priority_reorders_two_jobs_on_a_small_fleet(
    server: DockyardServer, account: Credentials, ecs: Any, s3control: Any, hollow: HollowAgents
) -> None:
    s3 = s3_client(server, account)
    bucket = new_bucket_name()
    s3.create_bucket(Bucket=bucket)
    etag = put_manifest(s3, bucket, [f"k{n}" for n in range(12)])
    ecs.create_cluster(clusterName="batch")
    ecs.register_task_definition(
        family="batch-fn", containerDefinitions=[{"name": "main", "image": "x", "memory": 1024}]
    )
    hollow.start(1, cluster="batch", script=TaskScript(task_seconds=0.3))  # 4 tasks at a time
    first = s3control.create_job(**lambda_job(account, bucket, etag, Priority=10, ConfirmationRequired=True))[
        "JobId"
    ]
    second = s3control.create_job(**lambda_job(account, bucket, etag, Priority=5, ConfirmationRequired=True))[
        "JobId"
    ]
    for job_id in (first, second):
        wait_status(s3control, account, job_id, "Suspended")
    s3control.update_job_priority(AccountId=account.account_id, JobId=second, Priority=20)
    for job_id in (first, second):
        s3control.update_job_status(AccountId=account.account_id, JobId=job_id, RequestedJobStatus="Ready")
    done = {job_id: wait_status(s3control, account, job_id, "Complete") for job_id in (first, second)}
    assert done[second]["Priority"] == 20
    assert done[second]["TerminationDate"] < done[first]["TerminationDate"]
    for job in done.values():
        assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 12


def test_a_manifest_generator_lists_a_bucket_through_its_filters(
    server: DockyardServer, account: Credentials, ecs: Any, s3control: Any, hollow: HollowAgents
) -> None:
    s3 = s3_client(server, account)
    bucket = new_bucket_name()
    s3.create_bucket(Bucket=bucket)
    for key in ("logs/a", "logs/b.gz", "other/c", "logs/d"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    ecs.create_cluster(clusterName="batch")
    register_function(ecs)
    hollow.start(1, cluster="batch", script=TaskScript(task_seconds=0.0))
    request = lambda_job(account, bucket, "unused")
    del request["Manifest"]
    request["ManifestGenerator"] = {
        "S3JobManifestGenerator": {
            "SourceBucket": f"arn:aws:s3:::{bucket}",
            "EnableManifestOutput": False,
            "Filter": {"KeyNameConstraint": {"MatchAnyPrefix": ["logs/"], "MatchAnySuffix": ["a", "d"]}},
        }
    }
    job_id = s3control.create_job(**request)["JobId"]
    job = wait_status(s3control, account, job_id, "Complete")
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 2
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 2


def test_an_inventory_report_manifest_names_its_csv_files(
    server: DockyardServer, account: Credentials, ecs: Any, s3control: Any, hollow: HollowAgents
) -> None:
    s3 = s3_client(server, account)
    bucket = new_bucket_name()
    s3.create_bucket(Bucket=bucket)
    for n, lines in enumerate((["a", "b"], ["c %2B d"])):
        data = "".join(f'"{bucket}","{key}","","true"\n' for key in lines).encode()
        s3.put_object(Bucket=bucket, Key=f"inv/data/{n}.csv.gz", Body=gzip.compress(data))
    document = {
        "sourceBucket": bucket,
        "destinationBucket": f"arn:aws:s3:::{bucket}",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest",
        "files": [{"key": f"inv/data/{n}.csv.gz"} for n in range(2)],
    }
    etag = s3.put_object(Bucket=bucket, Key="inv/manifest.json", Body=json.dumps(document).encode())["ETag"]
    ecs.create_cluster(clusterName="batch")
    register_function(ecs)
    hollow.start(1, cluster="batch", script=TaskScript(task_seconds=0.0))
    request = lambda_job(
        account,
        bucket,
        etag,
        Manifest={
            "Spec": {"Format": "S3InventoryReport_CSV_20161130"},
            "Location": {"ObjectArn": f"arn:aws:s3:::{bucket}/inv/manifest.json", "ETag": etag},
        },
    )
    job_id = s3control.create_job(**request)["JobId"]
    job = wait_status(s3control, account, job_id, "Complete")
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 3


def test_a_job_cannot_read_another_accounts_manifest(
    server: DockyardServer, account: Credentials, ecs: Any, s3control: Any
) -> None:
    s3 = s3_client(server, account)
    bucket = new_bucket_name()
    s3.create_bucket(Bucket=bucket)
    etag = put_manifest(s3, bucket, ["k"])
    register_function(ecs)
    other = server.new_account()
    register_function(server.client(other))
    theirs = s3control_client(server, other)
    job_id = theirs.create_job(**lambda_job(other, bucket, etag))["JobId"]
    job = wait_status(theirs, other, job_id, "Failed")
    assert job["FailureReasons"][0]["FailureCode"]
    assert "TotalNumberOfTasks" not in job["ProgressSummary"]
    mine = wait_status(
        s3control,
        account,
        s3control.create_job(**lambda_job(account, bucket, "wrong-etag"))["JobId"],
        "Failed",
    )
    assert mine["FailureReasons"][0]["FailureCode"] == "ETagMismatch"
