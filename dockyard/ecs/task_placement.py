"""Placing tasks for RunTask and StartTask: snapshot, pure placement, optimistic commit.

The placement engine sees an immutable snapshot of the cluster's instances. Its choice is
written back with one conditional UPDATE per chosen instance (``WHERE version = <snapshot
version>``); if any instance changed meanwhile (another request, another replica), the
whole attempt is rolled back to a savepoint and placement runs again on a fresh snapshot, as
Nomad's plan/apply does. Two concurrent requests can therefore never overcommit an instance.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import Row, func, select, update

from dockyard.context import RequestContext
from dockyard.ecs.container_instances import ACTIVE_TASK_STATUSES, AGENT_TIMEOUT_SECONDS
from dockyard.errors import ServerException
from dockyard.placement.engine import place
from dockyard.placement.model import InstanceSnapshot, PlacementRequest, PlacementResult
from dockyard.store.schema import attributes, container_instances, tasks

MAX_ATTEMPTS = 20
_rng = random.SystemRandom()


class Conflict(Exception):
    """An instance changed between snapshot and commit."""


def load_snapshot(
    ctx: RequestContext, cluster_name: str, only_ids: list[int] | None = None, *, include_inactive: bool = False
) -> list[InstanceSnapshot]:
    """The cluster's registered (non-INACTIVE) instances as placement sees them now."""
    query = select(container_instances).where(
        container_instances.c.account_id == ctx.account_id,
        container_instances.c.region == ctx.region,
        container_instances.c.cluster_name == cluster_name,
    )
    if not include_inactive:
        query = query.where(container_instances.c.status != "INACTIVE")
    if only_ids is not None:
        query = query.where(container_instances.c.id.in_(only_ids))
    rows = ctx.conn.execute(query).all()
    if not rows:
        return []
    attrs: dict[str, dict[str, str | None]] = defaultdict(dict)
    for target, name, value in ctx.conn.execute(
        select(attributes.c.target_id, attributes.c.name, attributes.c.value).where(
            attributes.c.account_id == ctx.account_id, attributes.c.region == ctx.region,
            attributes.c.cluster_name == cluster_name)
    ):
        attrs[target][name] = value
    groups: dict[int, Counter[str]] = defaultdict(Counter)
    running: Counter[int] = Counter()
    ids = [row.id for row in rows]
    # Groups count tasks desired RUNNING, as ECS counts them for spread and distinctInstance.
    for instance_id, group, desired, count in ctx.conn.execute(
        select(tasks.c.container_instance_id, tasks.c.group_name, tasks.c.desired_status, func.count())
        .where(tasks.c.container_instance_id.in_(ids), tasks.c.last_status.in_(ACTIVE_TASK_STATUSES))
        .group_by(tasks.c.container_instance_id, tasks.c.group_name, tasks.c.desired_status)
    ):
        running[instance_id] += count
        if group and desired == "RUNNING":
            groups[instance_id][group] += count
    return [
        InstanceSnapshot(
            id=row.id,
            arn=row.arn,
            ec2_instance_id=row.ec2_instance_id,
            status=row.status,
            agent_connected=row.last_seen_at is not None and ctx.now - row.last_seen_at <= AGENT_TIMEOUT_SECONDS,
            external=row.external,
            free_cpu=row.total_cpu - row.used_cpu,
            free_memory=row.total_memory - row.used_memory,
            used_ports=frozenset(row.used_ports) | frozenset(row.reserved_ports),
            free_gpus=tuple(gpu for gpu in row.total_gpus if gpu not in set(row.used_gpus)),
            attributes=attrs.get(row.arn, {}),
            version=row.version,
            running_tasks_count=running[row.id],
            registered_at=row.registered_at,
            task_groups=dict(groups[row.id]),
            agent_version=row.version_info.get("agentVersion"),
        )
        for row in rows
    ]


def gpus_of(pick: InstanceSnapshot, request: PlacementRequest) -> list[str]:
    """The GPU ids a task placed on ``pick`` (as snapshotted at its turn) holds."""
    return list(pick.free_gpus[: request.demand.gpus])


def _commit(ctx: RequestContext, result: PlacementResult, request: PlacementRequest) -> None:
    demand = request.demand
    taken: dict[int, list[InstanceSnapshot]] = defaultdict(list)
    for instance in result.chosen:
        taken[instance.id].append(instance)
    for instance_id, picks in taken.items():
        first = picks[0]
        row: Row[Any] | None = ctx.conn.execute(
            select(container_instances.c.used_ports, container_instances.c.used_gpus)
            .where(container_instances.c.id == instance_id)).first()
        if row is None:
            raise Conflict()
        count = len(picks)
        done = ctx.conn.execute(
            update(container_instances)
            .where(container_instances.c.id == instance_id, container_instances.c.version == first.version)
            .values(
                used_cpu=container_instances.c.used_cpu + demand.cpu * count,
                used_memory=container_instances.c.used_memory + demand.memory * count,
                used_ports=sorted(set(row.used_ports) | demand.ports),
                used_gpus=list(row.used_gpus) + [gpu for pick in picks for gpu in gpus_of(pick, request)],
                version=first.version + 1,
            )
        )
        if done.rowcount != 1:
            raise Conflict()


def place_and_reserve(
    ctx: RequestContext, cluster_name: str, request: PlacementRequest, only_ids: list[int] | None = None
) -> PlacementResult:
    """Place the request's tasks and reserve their resources, retrying on conflicts."""
    for _ in range(MAX_ATTEMPTS):
        snapshot = load_snapshot(ctx, cluster_name, only_ids)
        result = place(snapshot, request, _rng)
        savepoint = ctx.conn.begin_nested()
        try:
            _commit(ctx, result, request)
        except Conflict:
            savepoint.rollback()
            continue
        savepoint.commit()
        return result
    raise ServerException("Placement kept conflicting with concurrent changes; try again.")
