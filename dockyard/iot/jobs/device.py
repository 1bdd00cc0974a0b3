"""The device side (``iot-jobs-data``): a thing's pending executions, the next one started,
progress and outcome reported. Times are integers (epoch seconds), as the model says.

A device moves its execution QUEUED → IN_PROGRESS → SUCCEEDED | FAILED | REJECTED; an update
from a terminal state, or with a stale ``expectedVersion``, is refused with
InvalidStateTransitionException carrying the execution's state.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, bindparam, case, or_, select

from dockyard.context import RequestContext
from dockyard.iot import common
from dockyard.iot.data_errors import (
    AccessDeniedException,
    InvalidRequestException,
    InvalidStateTransitionException,
    ResourceNotFoundException,
)
from dockyard.jobs import engine, states
from dockyard.jobs.plan import MINUTE_SECONDS, Plan
from dockyard.store import direct
from dockyard.store.schema import job_items, jobs

NEXT = "$next"
_i = job_items.c


# A thing's released, pending executions: one index range (ix_job_items_item). Each statement
# is built once and run straight through SQLite's driver (store/direct.py): the status test is
# written as equalities, which it can take (an IN list is expanded per call).
_IS_PENDING = or_(*(_i.status == status for status in sorted(states.PENDING)))
_THINGS_PENDING = (
    select(job_items, jobs.c.job_id)
    .join(jobs, jobs.c.id == _i.job_row)
    .where(
        _i.account_id == bindparam("account_id"),
        _i.region == bindparam("region"),
        _i.item == bindparam("thing_name"),
        _i.current.is_(True),
        _i.released.is_(True),
        _IS_PENDING,
        jobs.c.status != states.JOB_DELETING,
    )
)
_PENDING = _THINGS_PENDING.order_by(_i.queued_at, _i.id)
# The next one (the oldest IN_PROGRESS, else the oldest QUEUED) with its job's spec and due
# time: StartNextPendingJobExecution's one read.
_NEXT = (
    _THINGS_PENDING.add_columns(jobs.c.spec, jobs.c.due_at)
    .order_by(case((_i.status == states.IN_PROGRESS, 0), else_=1), _i.queued_at, _i.id)
    .limit(1)
)
_ONE = (
    select(job_items, jobs.c.job_id, jobs.c.due_at)
    .join(jobs, jobs.c.id == _i.job_row)
    .where(
        jobs.c.account_id == bindparam("account_id"),
        jobs.c.region == bindparam("region"),
        jobs.c.kind == "iot",
        jobs.c.job_id == bindparam("job_id"),
        jobs.c.status != states.JOB_DELETING,
        _i.item == bindparam("thing_name"),
    )
)
# One execution of a job by number, or its current one (the highest number: so ordered, the
# read is one entry of uq_job_items_number, not a range of the job's executions); with the
# job's spec when the caller needs its document or plan. (spec, by_number) -> statement.
_FIND = {
    (spec, numbered): (
        (_ONE.add_columns(jobs.c.spec) if spec else _ONE).where(_i.number == bindparam("number"))
        if numbered
        else (_ONE.add_columns(jobs.c.spec) if spec else _ONE)
        .where(_i.current.is_(True))
        .order_by(_i.number.desc())
        .limit(1)
    )
    for spec in (False, True)
    for numbered in (False, True)
}


def _may_act_for(ctx: RequestContext, thing_name: str) -> None:
    """A device key (an agent's) acts for its own thing only."""
    bound = ctx.identity.thing_name if ctx.identity is not None else None
    if bound is not None and bound != thing_name:
        raise AccessDeniedException(
            f"This key belongs to thing {bound}: it may not act for thing {thing_name}."
        )


def _exists(ctx: RequestContext, thing_name: str) -> None:
    common.thing(ctx, thing_name, missing=ResourceNotFoundException)


def _values(ctx: RequestContext, thing_name: str) -> dict[str, Any]:
    return {"account_id": ctx.account_id, "region": ctx.region, "thing_name": thing_name}


def _pending(ctx: RequestContext, thing_name: str) -> list[Row[Any]]:
    """The thing's released, pending executions with their jobs, oldest first. A thing with
    pending executions exists (deleting it removes them), so only an empty answer asks."""
    _may_act_for(ctx, thing_name)
    rows = list(direct.execute(ctx.conn, _PENDING, _values(ctx, thing_name)))
    if not rows:
        _exists(ctx, thing_name)
    return rows


def _next(ctx: RequestContext, thing_name: str) -> Row[Any] | None:
    """The execution a device gets next (an IN_PROGRESS one first), with its job's spec."""
    _may_act_for(ctx, thing_name)
    row = direct.execute(ctx.conn, _NEXT, _values(ctx, thing_name)).first()
    if row is None:
        _exists(ctx, thing_name)
    return row


def _summary(row: Row[Any]) -> dict[str, Any]:
    return {
        "jobId": row.job_id,
        "queuedAt": int(row.queued_at),
        "startedAt": None if row.started_at is None else int(row.started_at),
        "lastUpdatedAt": int(row.updated_at),
        "versionNumber": row.version,
        "executionNumber": row.number,
    }


def _spec(ctx: RequestContext, row: Row[Any]) -> dict[str, Any]:
    """The job's spec (document, plan), when the statement that found ``row`` did not read it."""
    if "spec" in row._fields:
        return dict(row.spec)
    return dict(ctx.conn.execute(_SPEC, {"job_row": row.job_row}).scalar_one())


_SPEC = select(jobs.c.spec).where(jobs.c.id == bindparam("job_row"))


def _execution(ctx: RequestContext, row: Row[Any], *, document: str | None) -> dict[str, Any]:
    seconds = None
    if row.status == states.IN_PROGRESS and row.timeout_at is not None:
        seconds = max(0, int(row.timeout_at - ctx.now))
    return {
        **_summary(row),
        "thingName": row.item,
        "status": row.status,
        "statusDetails": row.details.get("statusDetails"),
        "approximateSecondsBeforeTimedOut": seconds,
        "jobDocument": document,
    }


def _after(row: Row[Any], moved: dict[str, Any]) -> Any:
    """The execution as ``engine.move`` left it, without reading it back."""
    return SimpleNamespace(**(dict(row._mapping) | moved))


def _timeout_at(ctx: RequestContext, row: Row[Any], plan: Plan, step_minutes: int | None) -> float | None:
    """The earlier of the job's in-progress timeout and the device's step timeout."""
    started = row.started_at if row.started_at is not None else ctx.now
    times = []
    if plan.in_progress_timeout_seconds is not None:
        times.append(started + plan.in_progress_timeout_seconds)
    if step_minutes is not None and step_minutes > 0:
        times.append(ctx.now + step_minutes * MINUTE_SECONDS)
    elif row.timeout_at is not None and row.status == states.IN_PROGRESS:
        times.append(row.timeout_at)
    return min(times) if times else None


def get_pending_job_executions(
    ctx: RequestContext, *, thing_name: str, namespace_id: str | None = None
) -> dict[str, Any]:
    rows = _pending(ctx, thing_name)
    return {
        "inProgressJobs": [_summary(row) for row in rows if row.status == states.IN_PROGRESS],
        "queuedJobs": [_summary(row) for row in rows if row.status == states.QUEUED],
    }


def start_next_pending_job_execution(
    ctx: RequestContext,
    *,
    thing_name: str,
    status_details: dict[str, str] | None = None,
    step_timeout_in_minutes: int | None = None,
    namespace_id: str | None = None,
) -> dict[str, Any]:
    row = _next(ctx, thing_name)
    if row is None:
        return {}
    spec = row.spec
    if row.status == states.QUEUED:
        details = dict(row.details)
        if status_details is not None:
            details["statusDetails"] = status_details
        timeout_at = _timeout_at(ctx, row, Plan.from_json(spec["plan"]), step_timeout_in_minutes)
        moved = engine.move(
            ctx,
            row,
            states.IN_PROGRESS,
            details=details,
            timeout_at=timeout_at,
            urgent=False,
            due_at=row.due_at,
        )
        return {"execution": _execution(ctx, _after(row, moved), document=spec["document"])}
    return {"execution": _execution(ctx, row, document=spec["document"])}


def describe_job_execution(
    ctx: RequestContext,
    *,
    job_id: str,
    thing_name: str,
    include_job_document: bool | None = None,
    execution_number: int | None = None,
) -> dict[str, Any]:
    with_document = include_job_document is not False
    row = _find(ctx, job_id, thing_name, execution_number, with_spec=with_document)
    document = _spec(ctx, row)["document"] if with_document else None
    return {"execution": _execution(ctx, row, document=document)}


def _find(
    ctx: RequestContext, job_id: str, thing_name: str, number: int | None, *, with_spec: bool
) -> Row[Any]:
    if job_id == NEXT:
        found = _next(ctx, thing_name)
        if found is None:
            raise ResourceNotFoundException(f"Thing {thing_name} has no pending job execution.")
        return found
    _may_act_for(ctx, thing_name)
    values = {**_values(ctx, thing_name), "job_id": job_id, "number": number}
    found = direct.execute(ctx.conn, _FIND[with_spec, number is not None], values).first()
    if found is None or found.status not in states.PENDING:
        _exists(ctx, thing_name)  # ended executions outlive their thing
    if found is None or not found.released:
        raise ResourceNotFoundException(
            f"Job execution of job {job_id} on thing {thing_name} cannot be found."
        )
    return found


def _state(row: Row[Any]) -> dict[str, Any]:
    return {
        "status": row.status,
        "statusDetails": row.details.get("statusDetails"),
        "versionNumber": row.version,
    }


def update_job_execution(
    ctx: RequestContext,
    *,
    job_id: str,
    thing_name: str,
    status: str,
    status_details: dict[str, str] | None = None,
    step_timeout_in_minutes: int | None = None,
    expected_version: int | None = None,
    include_job_execution_state: bool | None = None,
    include_job_document: bool | None = None,
    execution_number: int | None = None,
) -> dict[str, Any]:
    if job_id == NEXT:
        raise InvalidRequestException("UpdateJobExecution needs a job id, not $next.")
    needs_spec = bool(include_job_document) or status in (states.IN_PROGRESS, states.FAILED)
    row = _find(ctx, job_id, thing_name, execution_number, with_spec=needs_spec)
    if expected_version is not None and expected_version != row.version:
        raise InvalidStateTransitionException(
            f"The job execution's version is {row.version}, not the expected {expected_version}.",
            executionState=_state(row),
        )
    if not states.worker_may_move(row.status, status):
        raise InvalidStateTransitionException(
            f"The job execution cannot go from {row.status} to {status}.", executionState=_state(row)
        )
    details = dict(row.details)
    if status_details is not None:
        details["statusDetails"] = status_details
    spec = _spec(ctx, row) if needs_spec else {}
    plan = Plan.from_json(spec["plan"]) if "plan" in spec else None
    timeout_at: float | None | bool = False
    if status == states.IN_PROGRESS and plan is not None:
        timeout_at = _timeout_at(ctx, row, plan, step_timeout_in_minutes)
    engine.move(
        ctx, row, status, details=details, timeout_at=timeout_at, plan=plan, urgent=False, due_at=row.due_at
    )
    state = {
        "status": status,
        "statusDetails": details.get("statusDetails"),
        "versionNumber": row.version + 1,
    }
    return {
        "executionState": state if include_job_execution_state else None,
        "jobDocument": spec["document"] if include_job_document else None,
    }
