"""The console's jobs pages and action: IoT Jobs (the fleet's rollouts) through the IoT API's
own operations, as the ECS pages go through ECS's (``ecs_calls``), so the console can never do
what the API would refuse.

The jobs page lists a page of jobs (status and target selection filters, as ListJobs filters)
with their progress bars; a job's page shows its document, its rollout, abort and timeout
configuration and a page of its executions, each with its status and statusDetails. Cancelling
(with force, for executions already in progress) is a POST like every console action.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from dockyard.console import present
from dockyard.console.web import PREFIX, Visit
from dockyard.errors import ApiError

JOB_PAGE_SIZE = 25
EXECUTION_PAGE_SIZE = 25
JOB_STATUSES = ("IN_PROGRESS", "CANCELED", "COMPLETED", "SCHEDULED", "DELETION_IN_PROGRESS")
EXECUTION_STATUSES = (
    "QUEUED",
    "IN_PROGRESS",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "REJECTED",
    "REMOVED",
    "CANCELED",
)
SELECTIONS = ("SNAPSHOT", "CONTINUOUS")
CONFIGS = (
    "jobExecutionsRolloutConfig",
    "abortConfig",
    "timeoutConfig",
    "jobExecutionsRetryConfig",
    "presignedUrlConfig",
    "schedulingConfig",
)


async def jobs(visit: Visit) -> Response:
    status = visit.param("status")
    status = status if status in JOB_STATUSES else ""
    selection = visit.param("targetSelection")
    selection = selection if selection in SELECTIONS else ""
    listed = await visit.iot(
        "ListJobs",
        status=status or None,
        targetSelection=selection or None,
        maxResults=JOB_PAGE_SIZE,
        nextToken=visit.param("next") or None,
    )
    shown = []
    for summary in listed.get("jobs", []):
        try:
            described = (await visit.iot("DescribeJob", jobId=summary["jobId"]))["job"]
        except ApiError:  # deleted since it was listed
            continue
        shown.append({**summary, "progress": present.job_progress(described.get("jobProcessDetails", {}))})
    return visit.render(
        "jobs.html",
        jobs=shown,
        state=status,
        selection=selection,
        statuses=JOB_STATUSES,
        next_token=listed.get("nextToken"),
    )


async def job(visit: Visit) -> Response:
    job_id = visit.param("job")
    described = (await visit.iot("DescribeJob", jobId=job_id))["job"]
    document = (await visit.iot("GetJobDocument", jobId=job_id)).get("document", "")
    status = visit.param("status")
    status = status if status in EXECUTION_STATUSES else ""
    listed = await visit.iot(
        "ListJobExecutionsForJob",
        jobId=job_id,
        status=status or None,
        maxResults=EXECUTION_PAGE_SIZE,
        nextToken=visit.param("next") or None,
    )
    executions = []
    for summary in listed.get("executionSummaries", []):
        thing = present.short_id(summary["thingArn"])
        try:
            execution = (
                await visit.iot(
                    "DescribeJobExecution",
                    jobId=job_id,
                    thingName=thing,
                    executionNumber=summary["jobExecutionSummary"].get("executionNumber"),
                )
            )["execution"]
        except ApiError:  # removed since it was listed
            continue
        executions.append({**summary["jobExecutionSummary"], **execution, "thingName": thing})
    return visit.render(
        "job.html",
        job=described,
        document=_readable(document),
        configs=[(name, present.pretty_json(described[name])) for name in CONFIGS if described.get(name)],
        progress=present.job_progress(described.get("jobProcessDetails", {})),
        executions=executions,
        state=status,
        statuses=EXECUTION_STATUSES,
        next_token=listed.get("nextToken"),
    )


def _readable(document: str) -> str:
    """A JSON document indented; any other text as it is."""
    try:
        return present.pretty_json(json.loads(document))
    except ValueError:
        return document


async def cancel_job(visit: Visit) -> Response:
    job_id = visit.param("job")
    back = f"{PREFIX}/jobs/{job_id}"
    force = visit.field("force") == "true"
    params: dict[str, Any] = {"jobId": job_id, "force": force}
    comment = visit.field("comment").strip()
    if comment:
        params["comment"] = comment[:2028]
    try:
        await visit.iot("CancelJob", **params)
    except ApiError as error:
        return visit.redirect(back, ("error", f"{error.code}: {error.message}"))
    return visit.redirect(back, ("info", f"Job {job_id} is canceled{' (forced)' if force else ''}."))
