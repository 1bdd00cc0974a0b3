"""DescribeServices, ListServices, ListServiceDeployments, DescribeServiceDeployments,
DescribeServiceRevisions."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Row, bindparam, select

from dockyard.context import RequestContext
from dockyard.ecs import arns, clusters, task_definitions
from dockyard.ecs.services import records, views
from dockyard.errors import ApiError, InvalidParameterException, ServiceNotFoundException
from dockyard.store.expressions import one_of
from dockyard.store.pagination import PagedQuery, fetch_page, page_limit
from dockyard.store.schema import service_deployments, services

MAX_DESCRIBED = 10  # ECS describes at most 10 services per call
MAX_DEPLOYMENTS_DESCRIBED = 20


def describe_services(
    ctx: RequestContext, *, services: list[str], cluster: str | None = None, include: list[str] | None = None
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster, active_only=False, documents=False)
    if not services:
        raise InvalidParameterException("Services cannot be empty.")
    if len(services) > MAX_DESCRIBED:
        raise InvalidParameterException(f"At most {MAX_DESCRIBED} services can be described at once.")
    rows, failures = [], []
    for identifier in services:
        row = records.find(ctx, cluster_row, identifier)
        if row is None:
            missing = (
                identifier
                if arns.is_arn(identifier)
                else arns.arn(ctx, f"service/{cluster_row.name}/{identifier}")
            )
            failures.append({"arn": missing, "reason": "MISSING"})
        else:
            rows.append(row)
    rendered = views.render_services(
        ctx, rows, {cluster_row.name: cluster_row.arn}, include_tags="TAGS" in (include or ())
    )
    return {"services": rendered, "failures": failures}


def list_services(
    ctx: RequestContext,
    *,
    cluster: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
    launch_type: str | None = None,
    scheduling_strategy: str | None = None,
    resource_management_type: str | None = None,
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster, documents=False)
    limit = page_limit(max_results, default=10)  # ECS lists 10 services a page by default
    if resource_management_type not in (None, "CUSTOMER"):
        return {"serviceArns": []}  # Dockyard manages no services on the user's behalf
    scope = ("ListServices", ctx.account_id, ctx.region, cluster_row.name, launch_type, scheduling_strategy)
    after = ctx.tokens.open(next_token, scope) if next_token else None
    params = {
        "account": ctx.account_id,
        "region": ctx.region,
        "cluster": cluster_row.name,
        "launch_type": launch_type,
        "scheduling_strategy": scheduling_strategy,
    }
    paged = _listed(bool(launch_type), bool(scheduling_strategy))
    rows, last = fetch_page(ctx.conn, paged, limit=limit, after=after, params=params)
    result: dict[str, Any] = {"serviceArns": [row.arn for row in rows]}
    if last is not None:
        result["nextToken"] = ctx.tokens.seal(last, scope)
    return result


@functools.cache
def _listed(by_launch_type: bool, by_strategy: bool) -> PagedQuery:
    """ListServices' page statements for the filters given, built once."""
    query = select(services.c.id, services.c.arn).where(
        services.c.account_id == bindparam("account"),
        services.c.region == bindparam("region"),
        services.c.cluster_name == bindparam("cluster"),
        one_of(services.c.status, ("ACTIVE", "DRAINING")),
    )
    if by_launch_type:
        query = query.where(services.c.launch_type == bindparam("launch_type"))
    if by_strategy:
        query = query.where(services.c.scheduling_strategy == bindparam("scheduling_strategy"))
    return PagedQuery(query, [services.c.id])


def list_service_deployments(
    ctx: RequestContext,
    *,
    service: str,
    cluster: str | None = None,
    status: list[str] | None = None,
    created_at: dict[str, Any] | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    cluster_row = clusters.lookup(ctx, cluster, active_only=False, documents=False)
    row = records.find(ctx, cluster_row, service)
    if row is None:
        raise ServiceNotFoundException("Service not found.")
    limit = page_limit(max_results, maximum=100, default=20)
    deployments = service_deployments.c
    query = select(service_deployments).where(deployments.service_id == row.id)
    if status:
        query = query.where(one_of(deployments.lifecycle_status, tuple(status)))
    window = created_at or {}
    if window.get("after") is not None:
        query = query.where(deployments.created_at >= window["after"])
    if window.get("before") is not None:
        query = query.where(deployments.created_at <= window["before"])
    scope = ("ListServiceDeployments", ctx.account_id, ctx.region, row.id, tuple(status or ()), str(window))
    after = ctx.tokens.open(next_token, scope) if next_token else None
    # Newest first, as ECS lists them.
    rows, last = fetch_page(ctx.conn, query, [deployments.id], limit=limit, after=after, descending=True)
    result: dict[str, Any] = {
        "serviceDeployments": [
            views.render_service_deployment_brief(deployment, row, cluster_row.arn) for deployment in rows
        ]
    }
    if last is not None:
        result["nextToken"] = ctx.tokens.seal(last, scope)
    return result


def _deployments_by_arn(ctx: RequestContext, column: Any, wanted: list[str]) -> list[Row[Any]]:
    return list(
        ctx.conn.execute(
            select(service_deployments).where(
                service_deployments.c.account_id == ctx.account_id,
                service_deployments.c.region == ctx.region,
                column.in_(sorted(set(wanted))),
            )
        ).all()
    )


def _services_and_clusters(
    ctx: RequestContext, rows: list[Row[Any]]
) -> tuple[dict[int, Row[Any]], dict[str, str]]:
    owners = {
        row.id: row
        for row in ctx.conn.execute(select(services).where(services.c.id.in_({r.service_id for r in rows})))
    }
    cluster_arns = {
        name: arns.arn(ctx, f"cluster/{name}") for name in {owner.cluster_name for owner in owners.values()}
    }
    return owners, cluster_arns


def describe_service_deployments(
    ctx: RequestContext, *, service_deployment_arns: list[str]
) -> dict[str, Any]:
    if not service_deployment_arns or len(service_deployment_arns) > MAX_DEPLOYMENTS_DESCRIBED:
        raise InvalidParameterException(
            f"serviceDeploymentArns must name between 1 and {MAX_DEPLOYMENTS_DESCRIBED} service deployments."
        )
    rows = _deployments_by_arn(ctx, service_deployments.c.arn, service_deployment_arns)
    owners, cluster_arns = _services_and_clusters(ctx, rows)
    counts = views.task_counts(ctx, [row.id for row in rows])
    found = {row.arn for row in rows}
    return {
        "serviceDeployments": [
            views.render_service_deployment(
                row, owners[row.service_id], cluster_arns[owners[row.service_id].cluster_name], counts[row.id]
            )
            for row in rows
        ],
        "failures": [
            {"arn": arn, "reason": "MISSING"} for arn in service_deployment_arns if arn not in found
        ],
    }


def describe_service_revisions(ctx: RequestContext, *, service_revision_arns: list[str]) -> dict[str, Any]:
    if not service_revision_arns or len(service_revision_arns) > MAX_DEPLOYMENTS_DESCRIBED:
        raise InvalidParameterException(
            f"serviceRevisionArns must name between 1 and {MAX_DEPLOYMENTS_DESCRIBED} service revisions."
        )
    rows = _deployments_by_arn(ctx, service_deployments.c.revision_arn, service_revision_arns)
    owners, cluster_arns = _services_and_clusters(ctx, rows)
    found = {row.revision_arn for row in rows}
    revisions = []
    for row in rows:
        owner = owners[row.service_id]
        try:
            definition: dict[str, Any] | None = task_definitions.render(
                task_definitions.resolve(ctx, row.task_definition_arn)
            )
        except ApiError:  # the revision's task definition was deleted since
            definition = None
        revisions.append(
            views.render_service_revision(row, owner, cluster_arns[owner.cluster_name], definition)
        )
    return {
        "serviceRevisions": revisions,
        "failures": [{"arn": arn, "reason": "MISSING"} for arn in service_revision_arns if arn not in found],
    }
