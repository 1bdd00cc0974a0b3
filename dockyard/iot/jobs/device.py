"""The device side (``iot-jobs-data``): a thing's pending executions, the next one started,
progress and outcome reported. Times are integers (epoch seconds), as the model says.

A device moves its execution QUEUED → IN_PROGRESS → SUCCEEDED | FAILED | REJECTED; an update
from a terminal state, or with a stale ``expectedVersion``, is refused with
InvalidStateTransitionException carrying the execution's state.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, bindparam, select

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
from dockyard.store.schema import job_items, jobs

NEXT = "$next"
_i = job_items.c


_PENDING = (
    select(job_items, jobs.c.job_id)
    .join(jobs, jobs.c.id == _i.job_row)
    .where(
        _i.account_id == bindparam("account_id"),
        _i.region == bindparam("region"),
        _i.item == bindparam("thing_name"),
        _i.current.is_(True),
        _i.released.is_(True),
        _i.status.in_(tuple(states.PENDING)),
        jobs.c.status != states.JOB_DELETING,
    )
    .order_by(_i.queued_at, _i.id)
)
_ONE = (
    select(job_items, jobs.c.job_id)
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
_CURRENT = _ONE.where(_i.current.is_(True))
_NUMBERED = _ONE.where(_i.number == bindparam("number"))


def _may_act_for(ctx: RequestContext, thing_name: str) -> None:
    """A device key (an agent's) acts for its own thing only."""
    bound = ctx.identity.thing_name if ctx.identity is not None else None
    if bound is not None and bound != thing_name:
        raise AccessDeniedException(
            f"This key belongs to thing {bound}: it may not act for thing {thing_name}."
        )


def _exists(ctx: RequestContext, thing_name: str) -> None:
    common.thing(ctx, thing_name, missing=ResourceNotFoundException)


def _pending(ctx: RequestContext, thing_name: str) -> list[Row[Any]]:
    """The thing's released, pending executions with their jobs, oldest first. A thing with
    pending executions exists (deleting it removes them), so only an empty answer asks."""
    _may_act_for(ctx, thing_name)
    values = {"account_id": ctx.account_id, "region": ctx.region, "thing_name": thing_name}
    rows = list(ctx.conn.execute(_PENDING, values))
    if not rows:
        _exists(ctx, thing_name)
    return rows


def _next(rows: list[Row[Any]]) -> Row[Any] | None:
    running = [row for row in rows if row.status == states.IN_PROGRESS]
    chosen = running or rows
    return chosen[0] if chosen else None


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
    """The job's spec (document, plan): read only for the one execution that needs it."""
    return dict(ctx.conn.execute(select(jobs.c.spec).where(jobs.c.id == row.job_row)).scalar_one())


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
    row = _next(_pending(ctx, thing_name))
    if row is None:
        return {}
    spec = _spec(ctx, row)
    if row.status == states.QUEUED:
        details = dict(row.details)
        if status_details is not None:
            details["statusDetails"] = status_details
        timeout_at = _timeout_at(ctx, row, Plan.from_json(spec["plan"]), step_timeout_in_minutes)
        moved = engine.move(
            ctx, row, states.IN_PROGRESS, details=details, timeout_at=timeout_at, urgent=False
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
    row = _find(ctx, job_id, thing_name, execution_number)
    document = _spec(ctx, row)["document"] if include_job_document is not False else None
    return {"execution": _execution(ctx, row, document=document)}


def _find(ctx: RequestContext, job_id: str, thing_name: str, number: int | None) -> Row[Any]:
    if job_id == NEXT:
        found = _next(_pending(ctx, thing_name))
        if found is None:
            raise ResourceNotFoundException(f"Thing {thing_name} has no pending job execution.")
        return found
    _may_act_for(ctx, thing_name)
    values = {"account_id": ctx.account_id, "region": ctx.region, "job_id": job_id, "thing_name": thing_name}
    if number is None:
        found = ctx.conn.execute(_CURRENT, values).first()
    else:
        found = ctx.conn.execute(_NUMBERED, {**values, "number": number}).first()
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
    row = _find(ctx, job_id, thing_name, execution_number)
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
    spec = _spec(ctx, row) if include_job_document or status in (states.IN_PROGRESS, states.FAILED) else {}
    plan = Plan.from_json(spec["plan"]) if "plan" in spec else None
    timeout_at: float | None | bool = False
    if status == states.IN_PROGRESS and plan is not None:
        timeout_at = _timeout_at(ctx, row, plan, step_timeout_in_minutes)
    engine.move(ctx, row, status, details=details, timeout_at=timeout_at, plan=plan, urgent=False)
    state = {
        "status": status,
        "statusDetails": details.get("statusDetails"),
        "versionNumber": row.version + 1,
    }
    return {
        "executionState": state if include_job_execution_state else None,
        "jobDocument": spec["document"] if include_job_document else None,
    }
