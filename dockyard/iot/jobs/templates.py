"""Job templates: a document and configs that CreateJob takes by ``jobTemplateArn``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, insert, select

from dockyard.context import RequestContext
from dockyard.iot import common
from dockyard.iot.errors import ConflictException, InvalidRequestException, ResourceNotFoundException
from dockyard.iot.jobs import document_source
from dockyard.store.schema import job_templates

_t = job_templates.c
# What a template carries into a job made from it.
_CARRIED = (
    "document",
    "description",
    "presignedUrlConfig",
    "jobExecutionsRolloutConfig",
    "abortConfig",
    "timeoutConfig",
    "jobExecutionsRetryConfig",
    "destinationPackageVersions",
)


def template_arn(ctx: RequestContext, template_id: str) -> str:
    return common.arn(ctx, f"jobtemplate/{template_id}")


def _find(ctx: RequestContext, template_id: str) -> Row[Any] | None:
    return ctx.conn.execute(
        select(job_templates).where(
            _t.account_id == ctx.account_id, _t.region == ctx.region, _t.template_id == template_id
        )
    ).first()


def _template(ctx: RequestContext, template_id: str) -> Row[Any]:
    found = _find(ctx, template_id)
    if found is None:
        raise ResourceNotFoundException(f"Job template {template_id} cannot be found.")
    return found


def template_spec(ctx: RequestContext, arn: str) -> dict[str, Any]:
    template_id = common.arn_name(ctx, arn, "jobtemplate")
    if template_id is None:
        raise InvalidRequestException(f"{arn} is not a job template ARN of this account and region.")
    spec = _template(ctx, template_id).spec
    return {member: spec[member] for member in _CARRIED if spec.get(member) is not None}


def create_job_template(
    ctx: RequestContext, *, job_template_id: str, description: str, **given: Any
) -> dict[str, Any]:
    from dockyard.iot.jobs.actions import snake_to_member

    if _find(ctx, job_template_id) is not None:
        raise ConflictException(f"Job template {job_template_id} already exists.", resourceId=job_template_id)
    spec = {snake_to_member(name): value for name, value in given.items() if value is not None}
    spec["description"] = description
    if spec.get("documentSource") is not None:
        spec["document"] = document_source.fetched(ctx)
    if spec.get("jobArn") is not None:
        raise InvalidRequestException("Templates from a job's ARN are not supported yet: give the document.")
    if spec.get("document") is None:
        raise InvalidRequestException("A job template needs a document.")
    ctx.conn.execute(
        insert(job_templates).values(
            account_id=ctx.account_id,
            region=ctx.region,
            template_id=job_template_id,
            spec=spec,
            created_at=ctx.now,
        )
    )
    return {"jobTemplateArn": template_arn(ctx, job_template_id), "jobTemplateId": job_template_id}


def describe_job_template(ctx: RequestContext, *, job_template_id: str) -> dict[str, Any]:
    row = _template(ctx, job_template_id)
    shown = {member: row.spec[member] for member in _CARRIED if row.spec.get(member) is not None}
    return {
        "jobTemplateArn": template_arn(ctx, job_template_id),
        "jobTemplateId": job_template_id,
        "createdAt": row.created_at,
        **shown,
    }


def list_job_templates(
    ctx: RequestContext, *, max_results: int | None = None, next_token: str | None = None
) -> dict[str, Any]:
    query = select(job_templates).where(_t.account_id == ctx.account_id, _t.region == ctx.region)
    return common.page(
        ctx,
        member="jobTemplates",
        query=query,
        keys=[_t.template_id],
        scope=("job-templates",),
        next_token=next_token,
        max_results=max_results,
        item=lambda row: {
            "jobTemplateArn": template_arn(ctx, row.template_id),
            "jobTemplateId": row.template_id,
            "description": row.spec.get("description"),
            "createdAt": row.created_at,
        },
    )


def delete_job_template(ctx: RequestContext, *, job_template_id: str) -> dict[str, Any]:
    row = _template(ctx, job_template_id)
    ctx.conn.execute(delete(job_templates).where(_t.id == row.id))
    return {}
