"""S3 Control's views of a batch job row: JobDescriptor and JobListDescriptor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from dockyard.batch import job_states, operations
from dockyard.context import RequestContext


def job_arn(ctx: RequestContext, job_id: str) -> str:
    return f"arn:aws:s3:{ctx.region}:{ctx.account_id}:job/{job_id}"


def progress_summary(ctx: RequestContext, row: Row[Any]) -> dict[str, Any]:
    """Counts the engine keeps in the job's row, in the transaction that moves each item."""
    progress = row.progress
    active = float(progress.get("activeSeconds", 0.0))
    if row.status in job_states.RUNNING and progress.get("activeSince") is not None:
        active += max(0.0, ctx.now - float(progress["activeSince"]))
    summary: dict[str, Any] = {
        "NumberOfTasksSucceeded": int(progress.get("succeeded", 0)),
        "NumberOfTasksFailed": int(progress.get("failed", 0)),
        "Timers": {"ElapsedTimeInActiveSeconds": int(active)},
    }
    if progress.get("total") is not None:
        summary["TotalNumberOfTasks"] = int(progress["total"])
    return summary


def job(ctx: RequestContext, row: Row[Any]) -> dict[str, Any]:
    request, progress = row.spec["request"], row.progress
    return {
        "JobId": row.job_id,
        "JobArn": job_arn(ctx, row.job_id),
        "ConfirmationRequired": request["ConfirmationRequired"],
        "Description": request.get("Description"),
        "Status": row.status,
        "Manifest": request.get("Manifest"),
        "ManifestGenerator": request.get("ManifestGenerator"),
        "GeneratedManifestDescriptor": progress.get("generatedManifest"),
        "Operation": request["Operation"],
        "Priority": request["Priority"],
        "ProgressSummary": progress_summary(ctx, row),
        "StatusUpdateReason": progress.get("statusUpdateReason"),
        "FailureReasons": progress.get("failureReasons") or None,
        "Report": request["Report"],
        "CreationTime": row.created_at,
        "TerminationDate": row.completed_at,
        "RoleArn": request["RoleArn"],
        "SuspendedDate": progress.get("suspendedDate"),
        "SuspendedCause": progress.get("suspendedCause"),
    }


def list_item(ctx: RequestContext, row: Row[Any]) -> dict[str, Any]:
    request = row.spec["request"]
    return {
        "JobId": row.job_id,
        "Description": request.get("Description"),
        "Operation": operations.name_of(request["Operation"]),
        "Priority": request["Priority"],
        "Status": row.status,
        "CreationTime": row.created_at,
        "TerminationDate": row.completed_at,
        "ProgressSummary": progress_summary(ctx, row),
    }
