"""Continuous jobs follow their groups: a thing joining a target group gets an execution, a
leaver's queued one becomes REMOVED (a thing that is gone: every pending one)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select

from dockyard.context import RequestContext
from dockyard.iot import common, dynamic_groups
from dockyard.iot.jobs import views
from dockyard.iot.thing_groups import group_arn
from dockyard.jobs import engine, states
from dockyard.store.schema import job_items, jobs

_i = job_items.c


def _continuous_jobs(ctx: RequestContext, group_name: str) -> list[Row[Any]]:
    wanted = group_arn(ctx, group_name)
    rows = ctx.conn.execute(
        select(jobs).where(
            jobs.c.account_id == ctx.account_id,
            jobs.c.region == ctx.region,
            jobs.c.kind == "iot",
            jobs.c.status.in_((states.JOB_IN_PROGRESS, states.JOB_SCHEDULED)),
        )
    ).all()
    return [
        row for row in rows if row.spec["targetSelection"] == "CONTINUOUS" and wanted in views.targets(row)
    ]


def thing_changed(ctx: RequestContext, thing_name: str) -> None:
    """A thing was made or changed: continuous jobs on dynamic groups take it, or let it go."""
    rows = ctx.conn.execute(
        select(jobs).where(
            jobs.c.account_id == ctx.account_id,
            jobs.c.region == ctx.region,
            jobs.c.kind == "iot",
            jobs.c.status.in_((states.JOB_IN_PROGRESS, states.JOB_SCHEDULED)),
        )
    ).all()
    continuous = [row for row in rows if row.spec["targetSelection"] == "CONTINUOUS"]
    if not continuous:
        return
    thing = common.find_thing(ctx, thing_name)
    if thing is None:
        return
    for group in dynamic_groups.dynamic(ctx):
        arn = group_arn(ctx, group.name)
        targeting = [job for job in continuous if arn in views.targets(job)]
        if not targeting:
            continue
        if dynamic_groups.matches(ctx, group, thing):
            for job in targeting:
                engine.add_items(ctx, job, [thing_name])
        else:
            _remove(ctx, [job.id for job in targeting], thing_name, (states.QUEUED,))


def thing_joined(ctx: RequestContext, thing_name: str, group_name: str) -> None:
    for job in _continuous_jobs(ctx, group_name):
        engine.add_items(ctx, job, [thing_name])


def thing_left(ctx: RequestContext, thing_name: str, group_name: str) -> None:
    for job in _continuous_jobs(ctx, group_name):
        _remove(ctx, [job.id], thing_name, (states.QUEUED,))


def thing_removed(ctx: RequestContext, thing_name: str) -> None:
    """The thing is gone: none of its pending executions can run any more."""
    rows = ctx.conn.execute(
        select(_i.job_row).where(
            _i.account_id == ctx.account_id,
            _i.region == ctx.region,
            _i.item == thing_name,
            _i.current.is_(True),
        )
    ).scalars()
    _remove(ctx, list(rows), thing_name, tuple(states.PENDING))


def _remove(ctx: RequestContext, job_rows: list[int], thing_name: str, statuses: tuple[str, ...]) -> None:
    if not job_rows:
        return
    items = ctx.conn.execute(
        select(job_items).where(
            _i.job_row.in_(job_rows), _i.item == thing_name, _i.current.is_(True), _i.status.in_(statuses)
        )
    ).all()
    for item in items:
        engine.move(ctx, item, states.REMOVED)
