"""Job executions seen from the control plane: describe, list (by job, by thing), cancel, delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, delete, select

from dockyard.context import RequestContext
from dockyard.iot import common
from dockyard.iot.errors import (
    InvalidRequestException,
    InvalidStateTransitionException,
    ResourceNotFoundException,
    VersionConflictException,
)
from dockyard.iot.jobs import views
from dockyard.iot.jobs.actions import KIND, job_row
from dockyard.jobs import engine, states
from dockyard.protocol.rest.json_body import Ready
from dockyard.store import direct
from dockyard.store.pagination import PagedQuery
from dockyard.store.schema import job_items, jobs

_i = job_items.c


_ITEM = select(job_items).where(_i.job_row == bindparam("job_row"), _i.item == bindparam("thing_name"))
# The current execution is the highest number: so ordered, one entry of uq_job_items_number.
_CURRENT_ITEM = _ITEM.where(_i.current.is_(True)).order_by(_i.number.desc()).limit(1)
_NUMBERED_ITEM = _ITEM.where(_i.number == bindparam("number"))


def find_item(
    ctx: RequestContext, job: Row[Any], thing_name: str, number: int | None = None
) -> Row[Any] | None:
    values = {"job_row": job.id, "thing_name": thing_name, "number": number}
    return direct.execute(ctx.conn, _CURRENT_ITEM if number is None else _NUMBERED_ITEM, values).first()


def _item(
    ctx: RequestContext, job_id: str, thing_name: str, number: int | None = None
) -> tuple[Row[Any], Row[Any]]:
    job = job_row(ctx, job_id)
    item = find_item(ctx, job, thing_name, number)
    if item is None:
        raise ResourceNotFoundException(
            f"Job execution of job {job_id} on thing {thing_name} cannot be found."
        )
    return job, item


def describe_job_execution(
    ctx: RequestContext, *, job_id: str, thing_name: str, execution_number: int | None = None
) -> dict[str, Any]:
    _job, item = _item(ctx, job_id, thing_name, execution_number)
    return {"execution": views.execution(ctx, item, job_id)}


# One keyset read per page, the job found by its id in the same statement, only the columns a
# summary shows. Pages go by thing name (and execution number): a range of uq_job_items_number
# (job_row, item, number), never a sort of the job's executions; a thing's place never moves.
_SUMMARY = (
    select(_i.item, _i.status, _i.queued_at, _i.started_at, _i.updated_at, _i.number, _i.attempt)
    .join(jobs, jobs.c.id == _i.job_row)
    .where(
        jobs.c.account_id == bindparam("account_id"),
        jobs.c.region == bindparam("region"),
        jobs.c.kind == KIND,
        jobs.c.job_id == bindparam("job_id"),
        jobs.c.status != states.JOB_DELETING,
        _i.current.is_(True),
    )
)
_FOR_JOB = PagedQuery(_SUMMARY, [_i.item, _i.number])
_FOR_JOB_BY_STATUS = PagedQuery(_SUMMARY.where(_i.status == bindparam("status")), [_i.item, _i.number])


def list_job_executions_for_job(
    ctx: RequestContext,
    *,
    job_id: str,
    status: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    page = common.page(
        ctx,
        member="executionSummaries",
        query=_FOR_JOB_BY_STATUS if status else _FOR_JOB,
        scope=("executions-for-job", job_id, status),
        next_token=next_token,
        max_results=max_results,
        params={"account_id": ctx.account_id, "region": ctx.region, "job_id": job_id, "status": status},
        items=lambda rows: _summaries_for_job(ctx, rows),
    )
    if not page["executionSummaries"]:
        job_row(ctx, job_id)  # an empty page: of a job, or of no job (404)?
    return page


def _summaries_for_job(ctx: RequestContext, rows: Sequence[Sequence[Any]]) -> Ready:
    """JobExecutionSummaryForJob for each row, built wire-ready (no None, epoch seconds)."""
    thing_arn = common.arn(ctx, "thing/")
    return Ready(
        {
            "thingArn": thing_arn + name,
            "jobExecutionSummary": views.summary_values(status, queued, started, updated, number, attempt),
        }
        for name, status, queued, started, updated, number, attempt in rows
    )


def list_job_executions_for_thing(
    ctx: RequestContext,
    *,
    thing_name: str,
    status: str | None = None,
    namespace_id: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
    job_id: str | None = None,
) -> dict[str, Any]:
    common.thing(ctx, thing_name)
    query = (
        select(job_items, jobs.c.job_id)
        .join(jobs, jobs.c.id == _i.job_row)
        .where(
            _i.account_id == ctx.account_id,
            _i.region == ctx.region,
            _i.item == thing_name,
            _i.current.is_(True),
            jobs.c.status != states.JOB_DELETING,
        )
    )
    if status:
        query = query.where(_i.status == status)
    if job_id:
        query = query.where(jobs.c.job_id == job_id)
    return common.page(
        ctx,
        member="executionSummaries",
        query=query,
        keys=[_i.id],
        scope=("executions-for-thing", thing_name, status, job_id),
        next_token=next_token,
        max_results=max_results,
        item=lambda item: {"jobId": item.job_id, "jobExecutionSummary": views.execution_summary(item)},
    )


def cancel_job_execution(
    ctx: RequestContext,
    *,
    job_id: str,
    thing_name: str,
    force: bool | None = None,
    expected_version: int | None = None,
    status_details: dict[str, str] | None = None,
) -> dict[str, Any]:
    _job, item = _item(ctx, job_id, thing_name)
    if item.status in states.TERMINAL:
        raise InvalidStateTransitionException(f"The job execution is {item.status} already.")
    if item.status == states.IN_PROGRESS and not force:
        raise InvalidStateTransitionException("The job execution is IN_PROGRESS: cancel it with force.")
    if expected_version is not None and expected_version != item.version:
        raise VersionConflictException(
            f"The job execution's version is {item.version}, not the expected {expected_version}."
        )
    details = dict(item.details)
    if status_details:
        details["statusDetails"] = {**details.get("statusDetails", {}), **status_details}
    if item.status == states.IN_PROGRESS:
        details["forceCanceled"] = True
    engine.move(ctx, item, states.CANCELED, details=details)
    return {}


def delete_job_execution(
    ctx: RequestContext,
    *,
    job_id: str,
    thing_name: str,
    execution_number: int,
    force: bool | None = None,
    namespace_id: str | None = None,
) -> dict[str, Any]:
    _job, item = _item(ctx, job_id, thing_name, execution_number)
    if item.status not in states.TERMINAL and not force:
        raise InvalidStateTransitionException(
            f"The job execution is {item.status}: only a terminal one is deleted without force."
        )
    if item.status not in states.TERMINAL and item.status != states.QUEUED and not force:
        raise InvalidRequestException("The job execution is running.")
    ctx.conn.execute(delete(job_items).where(_i.id == item.id))
    engine.touch(ctx, item.job_row)
    return {}
