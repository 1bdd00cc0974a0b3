"""Placing tasks for RunTask and StartTask: snapshot, pure placement, optimistic commit.

The placement engine sees an immutable snapshot of the cluster's instances, from the
process's snapshot cache (``placement_cache``: brought up to date by what changed since it
was read, never trusted for correctness). Its choice is written back with one conditional
UPDATE per chosen instance (``WHERE version = <snapshot version>``), in id order so two
requests always lock instances in the same order. If any instance changed meanwhile
(another request, another replica, a stale cache), the attempt is rolled back to a
savepoint, the chosen instances are read again from the store, and placement runs again on
the snapshot with those instances replaced, as Nomad's plan/apply does. Two concurrent
requests can therefore never overcommit an instance.

A committed placement is reported to the cache with the instances' new state, so the next
request in this process finds it without reading the store (write-through).
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from typing import Any

from sqlalchemy import Row, bindparam, select, update

from dockyard.context import RequestContext
from dockyard.ecs import placement_cache
from dockyard.errors import ServerException
from dockyard.placement.engine import place
from dockyard.placement.model import InstanceSnapshot, PlacementRequest, PlacementResult
from dockyard.store.schema import container_instances

MAX_ATTEMPTS = 20
# Ties and random draws only need to be fair, not secret: SystemRandom's system call per draw
# (one per candidate instance) cost more than the rest of placement.
_rng = random.Random()

_instances = container_instances.c
# Built once: a statement built per call costs more than the database's work on it.
_HELD = select(_instances.used_ports, _instances.used_gpus).where(_instances.id == bindparam("row_id"))
# A task reserved on an instance is also a change to the instance's desired state, so the
# same UPDATE moves its desired version (the agent connection is woken after the commit).
_RESERVE = (
    update(container_instances)
    .where(_instances.id == bindparam("row_id"), _instances.version == bindparam("expected"))
    .values(
        used_cpu=_instances.used_cpu + bindparam("cpu"),
        used_memory=_instances.used_memory + bindparam("memory"),
        version=_instances.version + 1,
        desired_version=_instances.desired_version + 1,
    )
)
_RESERVE_HELD = _RESERVE.values(used_ports=bindparam("ports"), used_gpus=bindparam("gpus"))


class Conflict(Exception):
    """An instance changed between snapshot and commit."""


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


def gpus_of(pick: InstanceSnapshot, request: PlacementRequest) -> list[str]:
    """The GPU ids a task placed on ``pick`` (as snapshotted at its turn) holds."""
    return list(pick.free_gpus[: request.demand.gpus])


def _commit(
    ctx: RequestContext, result: PlacementResult, request: PlacementRequest
) -> dict[int, InstanceSnapshot]:
    """Reserve what the placed tasks hold and mark the instances' desired state changed;
    returns each chosen instance's state after it."""
    demand = request.demand
    taken: dict[int, list[InstanceSnapshot]] = defaultdict(list)
    for instance in result.chosen:
        taken[instance.id].append(instance)
    after: dict[int, InstanceSnapshot] = {}
    reservations: list[dict[str, Any]] = []
    for instance_id in sorted(taken):
        picks = taken[instance_id]
        first, count = picks[0], len(picks)
        params: dict[str, Any] = {
            "row_id": instance_id,
            "expected": first.version,
            "cpu": demand.cpu * count,
            "memory": demand.memory * count,
        }
        if demand.ports or demand.gpus:
            held = ctx.conn.execute(_HELD, {"row_id": instance_id}).first()
            if held is None:
                raise Conflict()
            params["ports"] = sorted(set(held.used_ports) | demand.ports)
            params["gpus"] = list(held.used_gpus) + [gpu for pick in picks for gpu in gpus_of(pick, request)]
            if ctx.conn.execute(_RESERVE_HELD, params).rowcount != 1:
                raise Conflict()
        else:
            reservations.append(params)
        after[instance_id] = dataclasses.replace(picks[-1].take(demand), version=first.version + 1)
    # One executemany for the plain reservations: each names a distinct instance, so the rows
    # it matched add up to their number unless one of them changed.
    if reservations and ctx.conn.execute(_RESERVE, reservations).rowcount != len(reservations):
        raise Conflict()
    return after


def place_and_reserve(
    ctx: RequestContext, cluster: Row[Any], request: PlacementRequest, only_ids: list[int] | None = None
) -> PlacementResult:
    """Place the request's tasks and reserve their resources, retrying on conflicts.

    ``cluster`` is the cluster's row as this request read it. ``only_ids`` (StartTask) limits
    placement to those instances, read from the store.
    """
    snapshot = None if only_ids is None else load_snapshot(ctx, cluster.name, only_ids)
    for _ in range(MAX_ATTEMPTS):
        if snapshot is None:  # the first attempt of RunTask: the kept placer of the cache
            result = placement_cache.place(ctx, cluster, request, _rng)
        else:
            result = place(snapshot, request, _rng)
        savepoint = ctx.conn.begin_nested()
        try:
            after = _commit(ctx, result, request)
        except Conflict:
            savepoint.rollback()
            if snapshot is None:
                snapshot = placement_cache.snapshot(ctx, cluster)
            snapshot = _reread(ctx, cluster.name, snapshot, {pick.id for pick in result.chosen})
            continue
        savepoint.commit()
        placement_cache.changed(ctx, cluster.name, after, placed=after)
        return result
    raise ServerException("Placement kept conflicting with concurrent changes; try again.")


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
