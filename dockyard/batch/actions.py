"""The S3 Batch Operations actions of S3 Control: jobs created, described, listed,
re-prioritized, confirmed or cancelled, and tagged. The engine (``engine.py``) does the rest."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import orjson
from sqlalchemy import Row, bindparam, insert, or_, select, update

from dockyard.batch import job_states, manifest_spec, operations, views
from dockyard.batch.errors import (
    BadRequestException,
    IdempotencyException,
    InvalidNextTokenException,
    JobStatusException,
    NotFoundException,
    TooManyTagsException,
)
from dockyard.context import RequestContext
from dockyard.ecs import task_definitions
from dockyard.errors import ApiError, InvalidParameterException
from dockyard.jobs import engine
from dockyard.store.pagination import fetch_page
from dockyard.store.schema import jobs

KIND = "s3batch"
MOST_TAGS = 50
MOST_RESULTS = 1000
LISTED_FOR_SECONDS = 90 * 86400  # a job that ended longer ago drops out of ListJobs
_j = jobs.c
_JOB_IDS = uuid.UUID("6c1c6f0e-4d0b-4f5e-9a59-5b3c0d1d0b13")  # JobIds from (account, region, token)

_FIND = select(jobs).where(
    _j.account_id == bindparam("account_id"),
    _j.region == bindparam("region"),
    _j.kind == KIND,
    _j.job_id == bindparam("job_id"),
)


def find_job(ctx: RequestContext, job_id: str, *, lock: bool = False) -> Row[Any]:
    statement = _FIND.with_for_update() if lock else _FIND
    row = ctx.conn.execute(
        statement, {"account_id": ctx.account_id, "region": ctx.region, "job_id": job_id}
    ).first()
    if row is None:
        raise NotFoundException(f"Job {job_id} not found.")
    return row


def create_job(
    ctx: RequestContext,
    *,
    account_id: str,
    operation: dict[str, Any],
    report: dict[str, Any],
    client_request_token: str,
    priority: int,
    role_arn: str,
    confirmation_required: bool | None = None,
    manifest: dict[str, Any] | None = None,
    manifest_generator: dict[str, Any] | None = None,
    description: str | None = None,
    tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    request = {
        "Operation": operation,
        "Report": report,
        "Priority": priority,
        "RoleArn": role_arn,
        "ConfirmationRequired": bool(confirmation_required),
        "Manifest": manifest,
        "ManifestGenerator": manifest_generator,
        "Description": description,
        "Tags": tags or [],
    }
    fingerprint = hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()
    # One JobId per (account, region, token): a replay finds its job, and two concurrent
    # creations with one token meet on the table's unique key.
    job_id = str(uuid.uuid5(_JOB_IDS, f"{ctx.account_id}/{ctx.region}/{client_request_token}"))
    existing = ctx.conn.execute(
        _FIND, {"account_id": ctx.account_id, "region": ctx.region, "job_id": job_id}
    ).first()
    if existing is not None:
        if existing.spec["fingerprint"] != fingerprint:
            raise IdempotencyException("The ClientRequestToken was already used for a different request.")
        return {"JobId": job_id}
    _check(ctx, request)
    ctx.conn.execute(
        insert(jobs).values(
            account_id=ctx.account_id,
            region=ctx.region,
            kind=KIND,
            job_id=job_id,
            status=job_states.NEW,
            spec={"request": request, "fingerprint": fingerprint},
            targets="",
            progress={"succeeded": 0, "failed": 0, "activeSeconds": 0.0},
            created_at=ctx.now,
            updated_at=ctx.now,
            completed_at=None,
            due_at=ctx.now,
        )
    )
    ctx.after_commit.append(lambda: ctx.server.controllers.wake(engine.CONTROLLER))
    return {"JobId": job_id}


def _check(ctx: RequestContext, request: dict[str, Any]) -> None:
    """What the model cannot say about a new job."""
    if (request["Manifest"] is None) == (request["ManifestGenerator"] is None):
        raise BadRequestException("Specify exactly one of Manifest and ManifestGenerator.")
    if request["Manifest"] is not None:
        manifest_spec.check_manifest(request["Manifest"])
    else:
        manifest_spec.check_generator(request["ManifestGenerator"])
    manifest_spec.check_report(request["Report"])
    role = request["RoleArn"]
    if not role.startswith(f"arn:aws:iam::{ctx.account_id}:role/"):
        raise BadRequestException(f"RoleArn {role} is not a role of account {ctx.account_id}.")
    check_tags(request["Tags"], BadRequestException)
    name = operations.name_of(request["Operation"])
    if name == operations.CONTAINER:
        function = operations.check_lambda(request["Operation"][name], ctx.account_id)
        try:
            task_definitions.resolve(ctx, function.reference)
        except ApiError:
            raise BadRequestException(
                f"Function {request['Operation'][name]['FunctionArn']} names no task definition "
                f"({function.reference})."
            ) from None


def check_tags(tags: list[dict[str, str]], too_many: type[ApiError]) -> None:
    if len(tags) > MOST_TAGS:
        raise too_many(f"A job takes at most {MOST_TAGS} tags ({len(tags)} given).")
    keys = [tag["Key"] for tag in tags]
    if len(set(keys)) != len(keys):
        raise BadRequestException("Tag keys must be unique.")


def describe_job(ctx: RequestContext, *, account_id: str, job_id: str) -> dict[str, Any]:
    return {"Job": views.job(ctx, find_job(ctx, job_id))}


def list_jobs(
    ctx: RequestContext,
    *,
    account_id: str,
    job_statuses: list[str] | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    if max_results is not None and max_results > MOST_RESULTS:
        raise BadRequestException(f"MaxResults must be at most {MOST_RESULTS}.")
    statuses = sorted(set(job_statuses or ()))
    query = select(jobs).where(
        _j.account_id == ctx.account_id,
        _j.region == ctx.region,
        _j.kind == KIND,
        or_(_j.completed_at.is_(None), _j.completed_at > ctx.now - LISTED_FOR_SECONDS),
    )
    if statuses:
        query = query.where(_j.status.in_(statuses))
    scope = (ctx.account_id, ctx.region, "s3batch-jobs", *statuses)
    try:
        after = ctx.tokens.open(next_token, scope) if next_token else None
        rows, last = fetch_page(
            ctx.conn, query, [_j.id], limit=max_results or MOST_RESULTS, after=after, descending=True
        )
    except InvalidParameterException:
        raise InvalidNextTokenException("The continuation token provided is invalid.") from None
    return {
        "Jobs": [views.list_item(ctx, row) for row in rows],
        "NextToken": ctx.tokens.seal(last, scope) if last is not None else None,
    }


def update_job_priority(
    ctx: RequestContext, *, account_id: str, job_id: str, priority: int
) -> dict[str, Any]:
    row = find_job(ctx, job_id, lock=True)
    spec = dict(row.spec, request=dict(row.spec["request"], Priority=priority))
    ctx.conn.execute(update(jobs).where(_j.id == row.id).values(spec=spec, updated_at=ctx.now))
    engine.touch(ctx, row.id)  # the engine shares capacity anew
    return {"JobId": job_id, "Priority": priority}


def update_job_status(
    ctx: RequestContext,
    *,
    account_id: str,
    job_id: str,
    requested_job_status: str,
    status_update_reason: str | None = None,
) -> dict[str, Any]:
    row = find_job(ctx, job_id, lock=True)
    status = job_states.requested(row.status, requested_job_status)
    if status is None:
        raise JobStatusException(
            f"Job {job_id} is {row.status}: it cannot be moved to {requested_job_status}."
        )
    progress = dict(row.progress, statusUpdateReason=status_update_reason)
    ctx.conn.execute(
        update(jobs).where(_j.id == row.id).values(status=status, progress=progress, updated_at=ctx.now)
    )
    engine.touch(ctx, row.id)
    return {"JobId": job_id, "Status": status, "StatusUpdateReason": status_update_reason}


def put_job_tagging(
    ctx: RequestContext, *, account_id: str, job_id: str, tags: list[dict[str, str]]
) -> dict[str, Any]:
    check_tags(tags, TooManyTagsException)
    _set_tags(ctx, job_id, tags)
    return {}


def get_job_tagging(ctx: RequestContext, *, account_id: str, job_id: str) -> dict[str, Any]:
    return {"Tags": find_job(ctx, job_id).spec["request"]["Tags"]}


def delete_job_tagging(ctx: RequestContext, *, account_id: str, job_id: str) -> dict[str, Any]:
    _set_tags(ctx, job_id, [])
    return {}


def _set_tags(ctx: RequestContext, job_id: str, tags: list[dict[str, str]]) -> None:
    row = find_job(ctx, job_id, lock=True)
    spec = dict(row.spec, request=dict(row.spec["request"], Tags=tags))
    ctx.conn.execute(update(jobs).where(_j.id == row.id).values(spec=spec, updated_at=ctx.now))
