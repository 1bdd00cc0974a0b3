"""One item as a container invocation (pure, table-tested): the S3 Batch Lambda event the
container gets in ``DOCKYARD_BATCH_EVENT`` (schema 1.0, or 2.0 with UserArguments), and the
item's result read from the container: a Lambda response on its last stdout line, else its
exit code (0 succeeded, 75 temporary failure, anything else permanent)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SUCCEEDED = "Succeeded"
TEMPORARY = "TemporaryFailure"
PERMANENT = "PermanentFailure"
TEMPORARY_EXIT = 75  # EX_TEMPFAIL


@dataclass(frozen=True)
class Item:
    bucket: str
    key: str
    version_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    code: str  # SUCCEEDED | TEMPORARY | PERMANENT
    message: str  # the resultString, or why
    error_code: str = ""  # the report's ErrorCode
    http_status: int = 200


def event(
    *, job_id: str, task_id: str, invocation_id: str, item: Item, version: str, user_arguments: dict[str, str]
) -> dict[str, Any]:
    if version == "2.0":
        return {
            "invocationSchemaVersion": "2.0",
            "invocationId": invocation_id,
            "job": {"id": job_id, "userArguments": user_arguments},
            "tasks": [
                {
                    "taskId": task_id,
                    "s3Key": item.key,
                    "s3VersionId": item.version_id,
                    "s3Bucket": item.bucket,
                }
            ],
        }
    return {
        "invocationSchemaVersion": "1.0",
        "invocationId": invocation_id,
        "job": {"id": job_id},
        "tasks": [
            {
                "taskId": task_id,
                "s3Key": item.key,
                "s3VersionId": item.version_id,
                "s3BucketArn": f"arn:aws:s3:::{item.bucket}",
            }
        ],
    }


def outcome(*, last_line: str | None, exit_code: int | None, stopped_reason: str | None) -> Outcome:
    """What a stopped task says about its item."""
    response = _response(last_line)
    if response is not None:
        return response
    if exit_code is None:  # never ran to an exit: a lost host, a failed start, a stop
        return Outcome(
            TEMPORARY, stopped_reason or "The task stopped without an exit code.", "TaskStopped", 500
        )
    if exit_code == 0:
        return Outcome(SUCCEEDED, "")
    if exit_code == TEMPORARY_EXIT:
        return Outcome(TEMPORARY, f"exit code {exit_code}", TEMPORARY, 500)
    return Outcome(PERMANENT, f"exit code {exit_code}", PERMANENT, 500)


def _response(line: str | None) -> Outcome | None:
    """A Lambda response (``results[0].resultCode``) or a bare ``{"resultCode": ...}``."""
    if not line or not line.lstrip().startswith("{"):
        return None
    try:
        document = json.loads(line)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    results = document.get("results")
    first = results[0] if isinstance(results, list) and results and isinstance(results[0], dict) else document
    code = first.get("resultCode")
    if code is None and "results" in document:
        code = document.get("treatMissingKeysAs", PERMANENT)
    if code not in (SUCCEEDED, TEMPORARY, PERMANENT):
        return None
    message = str(first.get("resultString") or "")
    if code == SUCCEEDED:
        return Outcome(SUCCEEDED, message)
    return Outcome(code, message, code, 500)
