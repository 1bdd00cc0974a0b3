"""Operations the engine runs itself against the store: copy and checksum, item by item, with
a missing object reported as a permanent failure."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from tests.batch.test_engine_hollow import lambda_job, put_manifest, read_report, wait_status
from tests.harness import Credentials, DockyardServer
from tests.objectstore.conftest import new_bucket_name, s3_client


def report_to(bucket: str) -> dict[str, Any]:
    return {
        "Enabled": True,
        "Bucket": f"arn:aws:s3:::{bucket}",
        "Prefix": "reports",
        "Format": "Report_CSV_20180820",
        "ReportScope": "AllTasks",
    }


def test_copy_and_checksum_jobs_run_in_the_engine(
    server: DockyardServer, account: Credentials, s3control: Any
) -> None:
    s3 = s3_client(server, account)
    source, target = new_bucket_name(), new_bucket_name()
    for bucket in (source, target):
        s3.create_bucket(Bucket=bucket)
    bodies = {"a.txt": b"alpha", "dir/b.txt": b"beta" * 1000}
    for key, body in bodies.items():
        s3.put_object(Bucket=source, Key=key, Body=body)
    etag = put_manifest(s3, source, ["a.txt", "dir/b.txt", "missing.txt"])
    copy = lambda_job(
        account,
        source,
        etag,
        Operation={
            "S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{target}", "TargetKeyPrefix": "copied/"}
        },
        Report=report_to(source),
    )
    job_id = s3control.create_job(**copy)["JobId"]
    job = wait_status(s3control, account, job_id, "Complete", "Failed")
    summary = job["ProgressSummary"]
    assert (job["Status"], summary["NumberOfTasksSucceeded"], summary["NumberOfTasksFailed"]) == (
        "Complete",
        2,
        1,
    )
    for key, body in bodies.items():
        assert s3.get_object(Bucket=target, Key=f"copied/{key}")["Body"].read() == body
    _manifest, rows = read_report(s3, source, job_id)
    assert [(row[1], row[3]) for row in rows["failed"]] == [("missing.txt", "failed")]

    checksum = lambda_job(
        account,
        source,
        etag,
        Operation={"S3ComputeObjectChecksum": {"ChecksumAlgorithm": "SHA256", "ChecksumType": "FULL_OBJECT"}},
        Report=report_to(source),
    )
    job_id = s3control.create_job(**checksum)["JobId"]
    assert (
        wait_status(s3control, account, job_id, "Complete")["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    )
    _manifest, rows = read_report(s3, source, job_id)
    sums = {row[1]: row[6] for row in rows["succeeded"]}
    for key, body in bodies.items():
        assert (
            sums[key.replace("/", "/")]
            == "SHA256:" + base64.b64encode(hashlib.sha256(body).digest()).decode()
        )


def test_tagging_on_the_embedded_store_fails_each_item_plainly_and_leaves_the_objects_alone(
    server: DockyardServer, account: Credentials, s3control: Any
) -> None:
    s3 = s3_client(server, account)
    bucket = new_bucket_name()
    s3.create_bucket(Bucket=bucket)
    for key in ("a.txt", "b.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"kept")
    etag = put_manifest(s3, bucket, ["a.txt", "b.txt"])
    for operation in (
        {"S3PutObjectTagging": {"TagSet": [{"Key": "team", "Value": "blue"}]}},
        {"S3DeleteObjectTagging": {}},
    ):
        job_id = s3control.create_job(
            **lambda_job(account, bucket, etag, Operation=operation, Report=report_to(bucket))
        )["JobId"]
        job = wait_status(s3control, account, job_id, "Complete", "Failed")
        assert job["ProgressSummary"]["NumberOfTasksFailed"] == 2
        _manifest, rows = read_report(s3, bucket, job_id)
        for row in rows["failed"]:
            assert (row[3], row[4], row[5]) == ("failed", "NotImplemented", "501")
            assert "keeps no object tags" in row[6] and next(iter(operation)) in row[6]
    # rclone would have taken a tagging request for the object itself (overwritten, deleted).
    for key in ("a.txt", "b.txt"):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"kept"
