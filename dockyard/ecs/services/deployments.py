"""A service's deployments: made when the service is created, when its task definition or
network changes or a new deployment is forced, and when the circuit breaker rolls back.

The newest is PRIMARY (what the service converges to); older ones with tasks left are ACTIVE
until those are replaced, then INACTIVE (kept for ListServiceDeployments and rollbacks).
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from sqlalchemy import Row, insert, select, update

from dockyard.context import RequestContext
from dockyard.ecs import arns
from dockyard.store.schema import service_deployments

_deployments = service_deployments.c
_ALPHANUMERIC = string.ascii_letters + string.digits


def _digits(count: int) -> str:
    return str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(count - 1))


def start(
    ctx: RequestContext,
    service: Any,
    *,
    task_definition_arn: str,
    desired_count: int,
    body: dict[str, Any],
    rollback_of: Row[Any] | None = None,
) -> int:
    """Make a new PRIMARY deployment of ``service`` (the one before it becomes ACTIVE);
    returns its row id."""
    previous = ctx.conn.execute(
        select(service_deployments).where(
            _deployments.service_id == service.id, _deployments.status == "PRIMARY"
        )
    ).all()
    for row in previous:
        superseded = row.rollout_state == "IN_PROGRESS" and rollback_of is None
        ctx.conn.execute(
            update(service_deployments)
            .where(_deployments.id == row.id)
            .values(
                status="ACTIVE",
                updated_at=ctx.now,
                lifecycle_status="STOPPED" if superseded else row.lifecycle_status,
                status_reason="Superseded by a newer deployment." if superseded else row.status_reason,
                finished_at=row.finished_at or (ctx.now if superseded else None),
            )
        )
    resource = f"{service.cluster_name}/{service.name}"
    deployment_body = dict(body)
    deployment_body["sourceServiceRevisions"] = [row.revision_arn for row in previous]
    if rollback_of is not None:
        deployment_body["rollback"] = {
            "reason": "ECS deployment circuit breaker: tasks failed to start.",
            "startedAt": ctx.now,
            "serviceRevisionArn": rollback_of.revision_arn,
        }
    result = ctx.conn.execute(
        insert(service_deployments).values(
            account_id=ctx.account_id,
            region=ctx.region,
            service_id=service.id,
            deployment_id=f"ecs-svc/{_digits(19)}",
            arn=arns.arn(
                ctx,
                f"service-deployment/{resource}/{''.join(secrets.choice(_ALPHANUMERIC) for _ in range(21))}",
            ),
            revision_arn=arns.arn(ctx, f"service-revision/{resource}/{_digits(19)}"),
            status="PRIMARY",
            rollout_state="IN_PROGRESS",
            rollout_state_reason="ECS deployment "
            + ("rolling back" if rollback_of is not None else "in progress")
            + ".",
            lifecycle_status="IN_PROGRESS",
            task_definition_arn=task_definition_arn,
            desired_count=desired_count,
            failed_tasks=0,
            body=deployment_body,
            created_at=ctx.now,
            updated_at=ctx.now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def current(ctx: RequestContext, service_id: int) -> list[Row[Any]]:
    """The service's PRIMARY and ACTIVE deployments, PRIMARY first, newest first."""
    rows = ctx.conn.execute(
        select(service_deployments)
        .where(_deployments.service_id == service_id, _deployments.status != "INACTIVE")
        .order_by(_deployments.id.desc())
    ).all()
    return sorted(rows, key=lambda row: row.status != "PRIMARY")


def last_completed(ctx: RequestContext, service_id: int, before: int) -> Row[Any] | None:
    """The newest deployment older than ``before`` whose rollout completed (a rollback's target)."""
    return ctx.conn.execute(
        select(service_deployments)
        .where(
            _deployments.service_id == service_id,
            _deployments.id < before,
            _deployments.rollout_state == "COMPLETED",
        )
        .order_by(_deployments.id.desc())
        .limit(1)
    ).first()


def set_values(ctx: RequestContext, deployment_id: int, **values: Any) -> None:
    ctx.conn.execute(
        update(service_deployments)
        .where(_deployments.id == deployment_id)
        .values(updated_at=ctx.now, **values)
    )
