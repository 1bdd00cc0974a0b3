"""IoT's views of the engine's rows: Job, JobSummary, JobExecution and their summaries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from dockyard.context import RequestContext
from dockyard.iot import common
from dockyard.jobs import states

# jobProcessDetails member -> item status
_COUNTS = {
    "numberOfCanceledThings": states.CANCELED,
    "numberOfSucceededThings": states.SUCCEEDED,
    "numberOfFailedThings": states.FAILED,
    "numberOfRejectedThings": states.REJECTED,
    "numberOfQueuedThings": states.QUEUED,
    "numberOfInProgressThings": states.IN_PROGRESS,
    "numberOfRemovedThings": states.REMOVED,
    "numberOfTimedOutThings": states.TIMED_OUT,
}
# Members of CreateJob's request kept as given and shown as given by DescribeJob.
CONFIG_MEMBERS = (
    "description",
    "presignedUrlConfig",
    "jobExecutionsRolloutConfig",
    "abortConfig",
    "timeoutConfig",
    "namespaceId",
    "jobTemplateArn",
    "jobExecutionsRetryConfig",
    "documentParameters",
    "schedulingConfig",
    "destinationPackageVersions",
)


def targets(job: Row[Any]) -> list[str]:
    return str(job.targets).split("\n")


def job_arn(ctx: RequestContext, job_id: str) -> str:
    return common.arn(ctx, f"job/{job_id}")


def is_concurrent(job: Row[Any], tally: dict[str, int], waiting: int) -> bool:
    """Rolling out (items not yet released) or canceling (items still running)."""
    if job.status == states.JOB_IN_PROGRESS:
        return waiting > 0
    return job.status == states.JOB_CANCELED and bool(tally.get(states.IN_PROGRESS))


def job(ctx: RequestContext, row: Row[Any], tally: dict[str, int], waiting: int) -> dict[str, Any]:
    spec = row.spec
    progress = row.progress
    rendered: dict[str, Any] = {
        "jobArn": job_arn(ctx, row.job_id),
        "jobId": row.job_id,
        "targetSelection": spec["targetSelection"],
        "status": row.status,
        "forceCanceled": bool(progress.get("forceCanceled", False)),
        "reasonCode": progress.get("reasonCode"),
        "comment": progress.get("comment"),
        "targets": targets(row),
        "createdAt": row.created_at,
        "lastUpdatedAt": row.updated_at,
        "completedAt": row.completed_at,
        "jobProcessDetails": {member: tally.get(status, 0) for member, status in _COUNTS.items()},
        "isConcurrent": is_concurrent(row, tally, waiting),
    }
    rendered.update({member: spec[member] for member in CONFIG_MEMBERS if spec.get(member) is not None})
    return rendered


def job_summary(ctx: RequestContext, row: Row[Any]) -> dict[str, Any]:
    return {
        "jobArn": job_arn(ctx, row.job_id),
        "jobId": row.job_id,
        "targetSelection": row.spec["targetSelection"],
        "status": row.status,
        "createdAt": row.created_at,
        "lastUpdatedAt": row.updated_at,
        "completedAt": row.completed_at,
    }


def status_details(item: Row[Any]) -> dict[str, Any] | None:
    found = item.details.get("statusDetails")
    return {"detailsMap": found} if found else None


def seconds_left(item: Row[Any], now: float) -> int | None:
    if item.status != states.IN_PROGRESS or item.timeout_at is None:
        return None
    return max(0, int(item.timeout_at - now))


def execution(ctx: RequestContext, item: Row[Any], job_id: str) -> dict[str, Any]:
    """The control plane's JobExecution (timestamps in epoch seconds)."""
    return {
        "jobId": job_id,
        "status": item.status,
        "forceCanceled": bool(item.details.get("forceCanceled", False)),
        "statusDetails": status_details(item),
        "thingArn": common.arn(ctx, f"thing/{item.item}"),
        "queuedAt": item.queued_at,
        "startedAt": item.started_at,
        "lastUpdatedAt": item.updated_at,
        "executionNumber": item.number,
        "versionNumber": item.version,
        "approximateSecondsBeforeTimedOut": seconds_left(item, ctx.now),
    }


def execution_summary(item: Row[Any]) -> dict[str, Any]:
    return summary_values(
        item.status, item.queued_at, item.started_at, item.updated_at, item.number, item.attempt
    )


def summary_values(
    status: str, queued: float, started: float | None, updated: float, number: int, attempt: int
) -> dict[str, Any]:
    """A JobExecutionSummary without None in it (a QUEUED execution has not started)."""
    summary = {
        "status": status,
        "queuedAt": queued,
        "lastUpdatedAt": updated,
        "executionNumber": number,
        "retryAttempt": attempt,
    }
    if started is not None:
        summary["startedAt"] = started
    return summary
