"""The Task and Container shapes, rendered from task rows."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row, Select, select

from dockyard.context import RequestContext
from dockyard.store import direct
from dockyard.store.expressions import in_params, in_values
from dockyard.store.schema import clusters, container_instances


@functools.lru_cache(maxsize=128)
def _instance_arns(count: int) -> Select[Any]:
    # Built once per number of instances: building it per call cost more than running it.
    return select(container_instances.c.id, container_instances.c.arn).where(
        in_params(container_instances.c.id, "id", count)
    )


def render_tasks(
    ctx: RequestContext,
    rows: Sequence[Row[Any]],
    *,
    include_tags: bool = False,
    cluster_arns: Mapping[str, str] | None = None,
    instance_arns: Mapping[int, str] | None = None,
) -> list[dict[str, Any]]:
    """The Task shapes of ``rows``, with their cluster and instance ARNs: given by a caller
    that knows them (RunTask), else read (one query each)."""
    if instance_arns is None:
        instance_ids = sorted(
            {row.container_instance_id for row in rows if row.container_instance_id is not None}
        )
        instance_arns = (
            dict(
                direct.fetch(ctx.conn, _instance_arns(len(instance_ids)), in_values("id", instance_ids)).all()
            )
            if instance_ids
            else {}
        )
    if cluster_arns is None:
        cluster_names = {row.cluster_name for row in rows}
        cluster_arns = (
            dict(
                ctx.conn.execute(
                    select(clusters.c.name, clusters.c.arn).where(
                        clusters.c.account_id == ctx.account_id,
                        clusters.c.region == ctx.region,
                        clusters.c.name.in_(cluster_names),
                    )
                ).all()
            )
            if cluster_names
            else {}
        )
    return [
        _render(
            row,
            cluster_arns.get(row.cluster_name),
            instance_arns.get(row.container_instance_id),
            include_tags,
        )
        for row in rows
    ]


def _render(
    row: Row[Any], cluster_arn: str | None, instance_arn: str | None, include_tags: bool
) -> dict[str, Any]:
    # Members without a value are left out here, as the wire leaves them out: a result with no
    # None in it is written in one pass (protocol/json_protocol.serialize_result).
    extra = row.attributes or {}
    members: tuple[tuple[str, Any], ...] = (
        ("taskArn", row.arn),
        ("clusterArn", cluster_arn),
        ("taskDefinitionArn", row.task_definition_arn),
        ("containerInstanceArn", instance_arn),
        ("overrides", {"containerOverrides": [], "inferenceAcceleratorOverrides": [], **row.overrides}),
        ("lastStatus", row.last_status),
        ("desiredStatus", row.desired_status),
        ("cpu", str(row.cpu)),
        ("memory", str(row.memory)),
        ("containers", row.containers),
        ("startedBy", row.started_by),
        ("version", row.version),
        ("stopCode", row.stop_code),
        ("stoppedReason", row.stopped_reason),
        ("group", row.group_name),
        ("launchType", row.launch_type),
        ("healthStatus", row.health_status),
        ("attachments", []),
        ("attributes", []),
        ("availabilityZone", extra.get("availabilityZone")),
        ("enableExecuteCommand", extra.get("enableExecuteCommand", False)),
        ("platformVersion", extra.get("platformVersion")),
        ("connectivity", "CONNECTED" if row.connectivity_at else None),
        ("createdAt", row.created_at),
        ("pullStartedAt", row.pull_started_at),
        ("pullStoppedAt", row.pull_stopped_at),
        ("startedAt", row.started_at),
        ("stoppingAt", row.stopping_at),
        ("stoppedAt", row.stopped_at),
        ("executionStoppedAt", row.execution_stopped_at),
        ("connectivityAt", row.connectivity_at),
        ("tags", row.tags if include_tags else None),
    )
    return {name: value for name, value in members if value is not None}
