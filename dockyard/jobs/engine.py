"""The job engine's store side: items made, moved, timed out, retried and counted, and one
job brought forward (``reconcile``) by the controller.

Every change of an item bumps its version and makes its job due (``touch``): the controller
then releases more items, applies the abort criteria and completes the job, in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, func, insert, or_, select, update

from dockyard.context import RequestContext
from dockyard.jobs import abort, rollout, states
from dockyard.jobs.plan import Plan
from dockyard.store import direct
from dockyard.store.schema import job_items, jobs

CONTROLLER = "jobs"
DELETE_BATCH = 1000

_i = job_items.c
_j = jobs.c


def plan_of(job: Row[Any]) -> Plan:
    return Plan.from_json(job.spec["plan"])


def touch(ctx: RequestContext, job_row: int) -> None:
    """The job's items changed: have the engine look at it now."""
    ctx.conn.execute(update(jobs).where(_j.id == job_row).values(due_at=ctx.now, updated_at=ctx.now))
    ctx.after_commit.append(lambda: ctx.server.controllers.wake(CONTROLLER))


# A worker's report makes its job due this much later, at the latest: a thousand devices
# finishing within a second cost the job one look, not a thousand.
COALESCE_SECONDS = 0.5
_DUE_BY = (
    update(jobs)
    .where(_j.id == bindparam("job_row"), or_(_j.due_at.is_(None), _j.due_at > bindparam("by")))
    .values(due_at=bindparam("by"))
)


def due_by(ctx: RequestContext, job_row: int, when: float) -> None:
    """Have the engine look at the job by ``when`` (a row already due earlier is left alone)."""
    ctx.conn.execute(_DUE_BY, {"job_row": job_row, "by": when})


def add_items(ctx: RequestContext, job: Row[Any], names: Iterable[str]) -> int:
    """Queue a first execution for each of ``names`` (not yet released); how many were new."""
    taken = {
        row.item
        for row in ctx.conn.execute(select(_i.item).where(_i.job_row == job.id, _i.current.is_(True)))
    }
    rows = [
        {
            "job_row": job.id,
            "account_id": job.account_id,
            "region": job.region,
            "item": name,
            "number": 1,
            "attempt": 0,
            "current": True,
            "status": states.QUEUED,
            "released": False,
            "version": 1,
            "details": {},
            "queued_at": ctx.now,
            "started_at": None,
            "updated_at": ctx.now,
            "timeout_at": None,
        }
        for name in dict.fromkeys(names)
        if name not in taken
    ]
    if rows:
        ctx.conn.execute(insert(job_items), rows)
        reconcile(ctx, job.id)  # the first release within the same transaction
    return len(rows)


_UNSET: Any = object()  # move's due_at: the job's due time was not read with the item
# An item moved to one of these: a running worker must stop; a retry is new work.
_TAKEN_AWAY = (states.CANCELED, states.TIMED_OUT, states.REMOVED, states.FAILED)


def move(
    ctx: RequestContext,
    item: Row[Any],
    status: str,
    *,
    details: dict[str, Any] | None = None,
    timeout_at: float | None | bool = False,
    plan: Plan | None = None,
    urgent: bool = True,
    due_at: float | None = _UNSET,
) -> dict[str, Any]:
    """Set an item's status (and details), bump its version; a failure may be retried.
    Returns the columns it wrote.
    ``timeout_at`` False leaves the timer as it is. A worker's report is not ``urgent``: the
    engine looks at its job within ``COALESCE_SECONDS`` (or when its new timer runs out).
    ``due_at``: the job's due time as read with the item, if it was (a job due early enough
    already is not written again)."""
    values: dict[str, Any] = {"status": status, "version": item.version + 1, "updated_at": ctx.now}
    if details is not None:
        values["details"] = details
    if status == states.IN_PROGRESS and item.started_at is None:
        values["started_at"] = ctx.now
    if timeout_at is not False:
        values["timeout_at"] = timeout_at
    if status in states.TERMINAL:
        values["timeout_at"] = None
    ctx.conn.execute(_update_item(tuple(values)), {"item_id": item.id, **_new(values)})
    if status in (states.FAILED, states.TIMED_OUT) and plan is not None:
        _maybe_retry(ctx, item, status, plan)
    if status in _TAKEN_AWAY:
        kind = ctx.conn.execute(select(_j.kind).where(_j.id == item.job_row)).scalar_one()
        _changed(ctx, kind, [item.item])  # a running worker must stop; a retry is new work
    by = None
    if urgent:
        touch(ctx, item.job_row)
    elif status in states.TERMINAL:
        by = ctx.now + COALESCE_SECONDS
    elif isinstance(values.get("timeout_at"), float):
        by = values["timeout_at"]
    # On SQLite writers take turns (one group commit), so the due time read with the item is
    # still the job's; on PostgreSQL a controller may have cleared it since: always ask there.
    known = due_at is not _UNSET and ctx.conn.dialect.name == "sqlite"
    if by is not None and not (known and due_at is not None and due_at <= by):
        due_by(ctx, item.job_row, by)
    return values


_ENDED_COLUMNS = ("status", "version", "updated_at", "details", "timeout_at")


def end_many(ctx: RequestContext, kind: str, ended: list[tuple[Row[Any], str, dict[str, Any]]]) -> None:
    """``move`` (not urgent, no retry) of many items, each to a terminal status with its new
    details, in one statement: a batch job's look ends hundreds of items at once."""
    if not ended:
        return
    rows = []
    for item, status, details in ended:
        assert status in states.TERMINAL
        values = {"status": status, "version": item.version + 1, "updated_at": ctx.now}
        rows.append({"item_id": item.id, **_new({**values, "details": details, "timeout_at": None})})
    direct.write(ctx.conn, _update_item(_ENDED_COLUMNS), rows)
    taken = [item.item for item, status, _ in ended if status in _TAKEN_AWAY]
    _changed(ctx, kind, taken)
    for job_row in sorted({item.job_row for item, _, _ in ended}):
        due_by(ctx, job_row, ctx.now + COALESCE_SECONDS)


# The columns an UPDATE of move writes -> the statement, built once per set of columns.
_UPDATES: dict[tuple[str, ...], Any] = {}


def _update_item(columns: tuple[str, ...]) -> Any:
    statement = _UPDATES.get(columns)
    if statement is None:
        assigned = {name: bindparam(f"new_{name}", type_=job_items.c[name].type) for name in columns}
        statement = update(job_items).where(_i.id == bindparam("item_id")).values(assigned)
        _UPDATES[columns] = statement
    return statement


def _new(values: dict[str, Any]) -> dict[str, Any]:
    return {f"new_{name}": value for name, value in values.items()}


def _maybe_retry(ctx: RequestContext, item: Row[Any], status: str, plan: Plan) -> None:
    attempt = int(item.attempt)
    if attempt >= plan.retries_for(status):
        return
    ctx.conn.execute(update(job_items).where(_i.id == item.id).values(current=False))
    ctx.conn.execute(
        insert(job_items).values(
            job_row=item.job_row,
            account_id=item.account_id,
            region=item.region,
            item=item.item,
            number=item.number + 1,
            current=True,
            status=states.QUEUED,
            released=True,
            version=1,
            attempt=attempt + 1,
            details={},
            queued_at=ctx.now,
            started_at=None,
            updated_at=ctx.now,
            timeout_at=None,
        )
    )


_TALLY = (
    select(_i.status, _i.released, func.count())
    .where(_i.job_row == bindparam("job_row"), _i.current.is_(True))
    .group_by(_i.status, _i.released)
)


def tally(ctx: RequestContext, job_row: int) -> tuple[dict[str, int], int]:
    """The job's current items (each item's latest execution) by status, and how many of them
    the rollout has not released yet: one grouped read."""
    counted: dict[str, int] = {}
    waiting = 0
    for status, released, count in direct.execute(ctx.conn, _TALLY, {"job_row": job_row}):
        counted[status] = counted.get(status, 0) + count
        if not released:
            waiting += count
    return counted, waiting


def counts(ctx: RequestContext, job_row: int) -> dict[str, int]:
    return tally(ctx, job_row)[0]


def cancel(
    ctx: RequestContext, job: Row[Any], *, force: bool, reason: str | None, comment: str | None
) -> None:
    """Cancel the job: its queued items (with ``force`` its running ones too) are CANCELED."""
    progress = dict(job.progress, reasonCode=reason, comment=comment, forceCanceled=force)
    ctx.conn.execute(
        update(jobs)
        .where(_j.id == job.id)
        .values(status=states.JOB_CANCELED, progress=progress, updated_at=ctx.now, completed_at=ctx.now)
    )
    wanted = (states.QUEUED, states.IN_PROGRESS) if force else (states.QUEUED,)
    for item in ctx.conn.execute(
        select(job_items).where(_i.job_row == job.id, _i.current.is_(True), _i.status.in_(wanted))
    ).all():
        details = dict(item.details, forceCanceled=True) if item.status == states.IN_PROGRESS else None
        move(ctx, item, states.CANCELED, details=details)


def reconcile(ctx: RequestContext, job_row: int) -> None:
    """Bring one job forward at ``ctx.now``: schedule, time out, release, abort, complete."""
    job = ctx.conn.execute(select(jobs).where(_j.id == job_row).with_for_update()).first()
    if job is None:
        return
    if job.status == states.JOB_DELETING:
        _delete_some(ctx, job)
        return
    plan = plan_of(job)
    now = ctx.now
    wakes: list[float] = []
    status = job.status
    if status == states.JOB_SCHEDULED:
        if plan.start_at is not None and now < plan.start_at:
            _set(ctx, job, due_at=plan.start_at)
            return
        status = states.JOB_IN_PROGRESS
        ctx.conn.execute(update(jobs).where(_j.id == job.id).values(status=status))
    progress = dict(job.progress)
    if status == states.JOB_IN_PROGRESS and plan.end_at is not None:
        if now >= plan.end_at:
            if plan.end_behavior in ("CANCEL", "FORCE_CANCEL"):
                cancel(
                    ctx, job, force=plan.end_behavior == "FORCE_CANCEL", reason="SCHEDULED_END", comment=None
                )
                _set(ctx, job, due_at=None)
                return
            progress["rolloutStopped"] = True
        else:
            wakes.append(plan.end_at)
    _time_out(ctx, job, plan)
    if status == states.JOB_IN_PROGRESS and not progress.get("rolloutStopped"):
        next_release = _release(ctx, job, plan, progress)
        if next_release is not None:
            wakes.append(next_release)
    tally = counts(ctx, job.id)
    if status == states.JOB_IN_PROGRESS:
        reason = abort.abort_reason(plan, tally)
        if reason is not None:
            ctx.conn.execute(update(jobs).where(_j.id == job.id).values(progress=progress))
            fresh = ctx.conn.execute(select(jobs).where(_j.id == job.id)).one()
            cancel(ctx, fresh, force=False, reason=reason, comment="The job's abort criteria were met.")
            _set(ctx, fresh, due_at=None)
            return
        if not plan.continuous and not any(tally.get(pending) for pending in states.PENDING):
            status = states.JOB_COMPLETED
    timer = ctx.conn.execute(
        # Only a current execution runs (a retry follows a failure): with current= this read
        # is one range of ix_job_items_job_status (job_row, current, status).
        select(func.min(_i.timeout_at)).where(
            _i.job_row == job.id, _i.current.is_(True), _i.status == states.IN_PROGRESS
        )
    ).scalar()
    if timer is not None:
        wakes.append(timer)
    ctx.conn.execute(
        update(jobs)
        .where(_j.id == job.id)
        .values(
            status=status,
            progress=progress,
            due_at=min(wakes) if wakes else None,
            completed_at=now if status == states.JOB_COMPLETED else job.completed_at,
        )
    )


def _set(ctx: RequestContext, job: Row[Any], *, due_at: float | None) -> None:
    ctx.conn.execute(update(jobs).where(_j.id == job.id).values(due_at=due_at))


def _time_out(ctx: RequestContext, job: Row[Any], plan: Plan) -> None:
    expired = ctx.conn.execute(
        select(job_items).where(
            _i.job_row == job.id,
            _i.current.is_(True),
            _i.status == states.IN_PROGRESS,
            _i.timeout_at <= ctx.now,
        )
    ).all()
    for item in expired:
        move(ctx, item, states.TIMED_OUT, plan=plan)


def _release(ctx: RequestContext, job: Row[Any], plan: Plan, progress: dict[str, Any]) -> float | None:
    waiting = ctx.conn.execute(
        select(func.count()).where(_i.job_row == job.id, _i.current.is_(True), _i.released.is_(False))
    ).scalar_one()
    if not waiting:
        return None
    succeeded = ctx.conn.execute(
        select(func.count()).where(_i.job_row == job.id, _i.status == states.SUCCEEDED)
    ).scalar_one()
    state = rollout.RolloutState(**progress.get("rollout", {}))
    step = rollout.release(plan, state, waiting=waiting, succeeded=succeeded, now=ctx.now)
    progress["rollout"] = asdict(step.state)
    if step.count:
        chosen = (
            select(_i.id)
            .where(_i.job_row == job.id, _i.current.is_(True), _i.released.is_(False))
            .order_by(_i.id)
            .limit(step.count)
        )
        ids = [row.id for row in ctx.conn.execute(chosen)]
        ctx.conn.execute(update(job_items).where(_i.id.in_(ids)).values(released=True))
        released = ctx.conn.execute(select(_i.item).where(_i.id.in_(ids))).scalars().all()
        _changed(ctx, job.kind, list(released))
    return step.next_at


# job kind -> called with the items whose work was released or taken away (IoT nudges the
# agents of those things, iot/jobs/nudge.py).
WORK_CHANGED: dict[str, Callable[[RequestContext, list[str]], None]] = {}


def _changed(ctx: RequestContext, kind: str, names: list[str]) -> None:
    hook = WORK_CHANGED.get(kind)
    if hook is not None and names:
        hook(ctx, names)


def _delete_some(ctx: RequestContext, job: Row[Any]) -> None:
    batch = select(_i.id).where(_i.job_row == job.id).limit(DELETE_BATCH)
    ids = [row.id for row in ctx.conn.execute(batch)]
    if ids:
        ctx.conn.execute(delete(job_items).where(_i.id.in_(ids)))
        _set(ctx, job, due_at=ctx.now)
        return
    ctx.conn.execute(delete(jobs).where(and_(_j.id == job.id, _j.status == states.JOB_DELETING)))
