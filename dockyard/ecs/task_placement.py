"""Placing tasks for RunTask and StartTask: snapshot, pure placement, optimistic commit.

The placement engine sees an immutable snapshot of the cluster's instances, from the
process's snapshot cache (``placement_cache``: brought up to date by what changed since it
was read, never trusted for correctness; RunTask uses its kept placer for the request's
shape). Its choice is checked and written back in the request's transaction: the chosen
instances are read and locked in id order (so two requests always lock instances in the same
order), and if any is no longer at the version placement saw (another request, another
replica, a stale cache), nothing is written: the chosen instances are read again from the
store, and placement runs again on the snapshot with those instances replaced, as Nomad's
plan/apply does. Otherwise their resources are reserved. Two concurrent requests can
therefore never overcommit an instance. When conflicts keep winning (many requests, or several
replicas, on the same instances), the last attempt is pessimistic: it locks every instance of
the cluster in id order, reads them from the store and places once, so a RunTask under
contention waits its turn instead of failing.
"""

from __future__ import annotations

import os
import random
from typing import Any

from sqlalchemy import Row, bindparam, select

from dockyard.context import RequestContext
from dockyard.ecs import placement_cache
from dockyard.ecs.instance_books import Conflict, reserve
from dockyard.errors import ServerException
from dockyard.placement.engine import place
from dockyard.placement.model import InstanceSnapshot, PlacementRequest, PlacementResult
from dockyard.store.db import lock_scope
from dockyard.store.schema import container_instances

# Optimistic attempts before the pessimistic one (the variable lets tests force the latter).
MAX_ATTEMPTS = int(os.environ.get("DOCKYARD_PLACEMENT_ATTEMPTS", "20"))
# Ties and random draws only need to be fair, not secret: SystemRandom's system call per draw
# (one per candidate instance) cost more than the rest of placement.
_rng = random.Random()

_instances = container_instances.c
# Every instance of a cluster, locked in the same (id) order the optimistic path locks its
# subsets in, so the two never deadlock each other.
_LOCK_CLUSTER = (
    select(_instances.id)
    .where(
        _instances.account_id == bindparam("account"),
        _instances.region == bindparam("region"),
        _instances.cluster_name == bindparam("cluster"),
    )
    .order_by(_instances.id)
    .with_for_update()
)


def load_snapshot(
    ctx: RequestContext,
    cluster_name: str,
    only_ids: list[int] | None = None,
    *,
    include_inactive: bool = False,
) -> list[InstanceSnapshot]:
    """The cluster's registered (non-INACTIVE) instances as placement sees them now, read
    from the store."""
    return placement_cache.read_instances(
        ctx, cluster_name, ids=only_ids, include_inactive=include_inactive
    ).snapshots


def place_and_reserve(
    ctx: RequestContext, cluster: Row[Any], request: PlacementRequest, only_ids: list[int] | None = None
) -> tuple[PlacementResult, dict[int, int]]:
    """Place the request's tasks and reserve their resources, retrying on conflicts; returns
    the placement and each chosen instance's desired version after the reservation.

    ``cluster`` is the cluster's row as this request read it. ``only_ids`` (StartTask) limits
    placement to those instances, read from the store.
    """
    snapshot = None if only_ids is None else load_snapshot(ctx, cluster.name, only_ids)
    for _ in range(MAX_ATTEMPTS):
        if snapshot is None:  # the first attempt of RunTask: the kept placer of the cache
            result = placement_cache.place(ctx, cluster, request, _rng)
        else:
            result = place(snapshot, request, _rng)
        try:
            with lock_scope(ctx.conn):
                reserved = reserve(ctx, result, request)
        except Conflict:
            if snapshot is None:
                snapshot = placement_cache.snapshot(ctx, cluster)
            snapshot = _reread(ctx, cluster.name, snapshot, {pick.id for pick in result.chosen})
            continue
        placement_cache.changed(ctx, cluster.name, reserved.after, placed=reserved.after)
        return result, reserved.desired_versions
    return _place_locked(ctx, cluster, request, only_ids)


def _place_locked(
    ctx: RequestContext, cluster: Row[Any], request: PlacementRequest, only_ids: list[int] | None
) -> tuple[PlacementResult, dict[int, int]]:
    """Place with the cluster's instances locked until the commit: nothing can conflict."""
    scope = {"account": ctx.account_id, "region": ctx.region, "cluster": cluster.name}
    ctx.conn.execute(_LOCK_CLUSTER, scope).all()
    result = place(load_snapshot(ctx, cluster.name, only_ids), request, _rng)
    try:
        reserved = reserve(ctx, result, request)
    except Conflict:  # the rows are locked and were just read: a bug, and the request fails whole
        raise ServerException("An instance changed while its cluster was locked for a placement.") from None
    placement_cache.changed(ctx, cluster.name, reserved.after, placed=reserved.after)
    return result, reserved.desired_versions


def _reread(
    ctx: RequestContext, cluster_name: str, snapshot: list[InstanceSnapshot], ids: set[int]
) -> list[InstanceSnapshot]:
    """``snapshot`` with these instances as the store has them now (gone if deregistered)."""
    fresh = {instance.id: instance for instance in load_snapshot(ctx, cluster_name, sorted(ids))}
    return [
        fresh.get(instance.id, instance)
        for instance in snapshot
        if instance.id not in ids or instance.id in fresh
    ]
