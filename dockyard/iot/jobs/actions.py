"""The IoT job actions of the control plane: create, describe, list, update, cancel, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update

from dockyard.context import RequestContext
from dockyard.iot import common
from dockyard.iot.errors import (
    InvalidRequestException,
    InvalidStateTransitionException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from dockyard.iot.jobs import document_source as document_source_reader
from dockyard.iot.jobs import plans, targets, templates, views
from dockyard.jobs import engine, states
from dockyard.store import direct
from dockyard.store.schema import jobs

KIND = "iot"
MOST_CONCURRENT_DELETIONS = 10
_j = jobs.c


_FIND = select(jobs).where(
    _j.account_id == bindparam("account_id"),
    _j.region == bindparam("region"),
    _j.kind == KIND,
    _j.job_id == bindparam("job_id"),
)


def find_job(ctx: RequestContext, job_id: str) -> Row[Any] | None:
    values = {"account_id": ctx.account_id, "region": ctx.region, "job_id": job_id}
    return direct.execute(ctx.conn, _FIND, values).first()


def job_row(
    ctx: RequestContext, job_id: str, missing: type[Exception] = ResourceNotFoundException
) -> Row[Any]:
    found = find_job(ctx, job_id)
    if found is None or found.status == states.JOB_DELETING:
        raise missing(f"Job {job_id} cannot be found.")
    return found


def create_job(
    ctx: RequestContext,
    *,
    job_id: str,
    targets: list[str],
    document_source: str | None = None,
    document: str | None = None,
    target_selection: str | None = None,
    tags: list[dict[str, str]] | None = None,
    job_template_arn: str | None = None,
    **configs: Any,
) -> dict[str, Any]:
    if find_job(ctx, job_id) is not None:
        raise ResourceAlreadyExistsException(
            f"Job {job_id} already exists.", resourceId=job_id, resourceArn=views.job_arn(ctx, job_id)
        )
    spec: dict[str, Any] = {}
    if job_template_arn is not None:
        spec.update(templates.template_spec(ctx, job_template_arn))
    spec.update({snake_to_member(name): value for name, value in configs.items() if value is not None})
    if document is not None:
        spec["document"] = document
    if document_source is not None:
        spec.update(document=document_source_reader.fetched(ctx), documentSource=document_source)
    if spec.get("document") is None:
        raise InvalidRequestException("A job needs a document (or a job template with one).")
    spec.update(targetSelection=target_selection or "SNAPSHOT", tags=tags or [])
    if job_template_arn is not None:
        spec["jobTemplateArn"] = job_template_arn
    plan = plans.plan(spec)
    spec["plan"] = plan.to_json()
    names = _targets.expand(ctx, targets)
    scheduled = plan.start_at is not None and plan.start_at > ctx.now
    ctx.conn.execute(
        insert(jobs).values(
            account_id=ctx.account_id,
            region=ctx.region,
            kind=KIND,
            job_id=job_id,
            status=states.JOB_SCHEDULED if scheduled else states.JOB_IN_PROGRESS,
            spec=spec,
            targets="\n".join(targets),
            progress={},
            created_at=ctx.now,
            updated_at=ctx.now,
            completed_at=None,
            due_at=ctx.now,
        )
    )
    row = job_row(ctx, job_id)
    if not engine.add_items(ctx, row, names):
        engine.reconcile(ctx, row.id)
    return {"jobArn": views.job_arn(ctx, job_id), "jobId": job_id, "description": spec.get("description")}


_targets = targets


def snake_to_member(name: str) -> str:
    """``abort_config`` -> ``abortConfig``: the request's own member name, as it is kept."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def describe_job(
    ctx: RequestContext, *, job_id: str, before_substitution: bool | None = None
) -> dict[str, Any]:
    row = job_row(ctx, job_id)
    described = views.job(ctx, row, *engine.tally(ctx, row.id))
    return {"job": described, "documentSource": row.spec.get("documentSource")}


def get_job_document(
    ctx: RequestContext, *, job_id: str, before_substitution: bool | None = None
) -> dict[str, Any]:
    return {"document": job_row(ctx, job_id).spec["document"]}


def list_jobs(
    ctx: RequestContext,
    *,
    status: str | None = None,
    target_selection: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
    thing_group_name: str | None = None,
    thing_group_id: str | None = None,
    namespace_id: str | None = None,
) -> dict[str, Any]:
    query = select(jobs).where(
        _j.account_id == ctx.account_id,
        _j.region == ctx.region,
        _j.kind == KIND,
        _j.status != states.JOB_DELETING,
    )
    if status:
        query = query.where(_j.status == status)
    page = common.page(
        ctx,
        member="jobs",
        query=query,
        keys=[_j.id],
        scope=("jobs", status),
        next_token=next_token,
        max_results=max_results,
        item=lambda row: row,
    )
    group_arn = None
    if thing_group_name:
        group_arn = common.arn(ctx, f"thinggroup/{thing_group_name}")
    page["jobs"] = [
        views.job_summary(ctx, row)
        for row in page["jobs"]
        if (target_selection is None or row.spec["targetSelection"] == target_selection)
        and (group_arn is None or group_arn in views.targets(row))
    ]
    return page


def update_job(ctx: RequestContext, *, job_id: str, **configs: Any) -> dict[str, Any]:
    row = job_row(ctx, job_id)
    spec = dict(row.spec)
    spec.update({snake_to_member(name): value for name, value in configs.items() if value is not None})
    spec["plan"] = plans.plan(spec).to_json()
    ctx.conn.execute(update(jobs).where(_j.id == row.id).values(spec=spec))
    engine.touch(ctx, row.id)
    return {}


def cancel_job(
    ctx: RequestContext,
    *,
    job_id: str,
    reason_code: str | None = None,
    comment: str | None = None,
    force: bool | None = None,
) -> dict[str, Any]:
    row = job_row(ctx, job_id)
    if row.status == states.JOB_COMPLETED:
        raise InvalidRequestException(f"Job {job_id} is COMPLETED: it cannot be canceled.")
    if row.status == states.JOB_CANCELED and not force:
        raise InvalidRequestException(f"Job {job_id} is already canceled.")
    engine.cancel(ctx, row, force=bool(force), reason=reason_code, comment=comment)
    return {"jobArn": views.job_arn(ctx, job_id), "jobId": job_id, "description": row.spec.get("description")}


def delete_job(
    ctx: RequestContext, *, job_id: str, force: bool | None = None, namespace_id: str | None = None
) -> dict[str, Any]:
    row = job_row(ctx, job_id)
    if row.status not in states.JOB_TERMINAL and not force:
        raise InvalidStateTransitionException(
            f"Job {job_id} is {row.status}: only a COMPLETED or CANCELED job is deleted without force."
        )
    deleting = ctx.conn.execute(
        select(func.count()).where(
            _j.account_id == ctx.account_id, _j.region == ctx.region, _j.status == states.JOB_DELETING
        )
    ).scalar_one()
    if deleting >= MOST_CONCURRENT_DELETIONS:
        raise LimitExceededException(
            f"{deleting} jobs are being deleted already (at most {MOST_CONCURRENT_DELETIONS}): "
            "wait for one to finish."
        )
    ctx.conn.execute(update(jobs).where(_j.id == row.id).values(status=states.JOB_DELETING, due_at=ctx.now))
    engine.touch(ctx, row.id)
    return {}
