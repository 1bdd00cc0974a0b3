"""The completion report (pure): ``job-<id>/results/<n>.csv`` rows (Bucket, Key, VersionId,
TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage) and ``job-<id>/manifest.json``
(``Report_CSV_20180820``) naming them, as S3 Batch Operations writes them."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Any
from urllib.parse import quote

FORMAT = "Report_CSV_20180820"
SCHEMA = "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
ROWS_PER_FILE = 100_000


def prefix(report: dict[str, Any], job_id: str) -> str:
    given = (report.get("Prefix") or "").strip("/")
    return f"{given}/job-{job_id}" if given else f"job-{job_id}"


def csv_file(rows: list[dict[str, Any]]) -> bytes:
    """One results file: a line per item (keys URL-encoded, as in the manifest)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(
            [
                row["bucket"],
                quote(row["key"], safe="/"),
                row.get("version") or "",
                row["taskStatus"],
                row.get("errorCode") or "",
                row.get("http") or 200,
                row.get("message") or "",
            ]
        )
    return out.getvalue().encode()


def manifest(
    *, job_id: str, report_bucket: str, created: str, results: list[tuple[str, str, bytes]]
) -> bytes:
    """``manifest.json``: the report's files (status ``succeeded`` or ``failed``, key, body)."""
    return json.dumps(
        {
            "Format": FORMAT,
            "ReportCreationDate": created,
            "Results": [
                {
                    "TaskExecutionStatus": status,
                    "Bucket": report_bucket,
                    "MD5Checksum": hashlib.md5(body, usedforsecurity=False).hexdigest(),
                    "Key": key,
                }
                for status, key, body in results
            ],
            "ReportSchema": SCHEMA,
            "JobId": job_id,
        },
        indent=1,
    ).encode()
