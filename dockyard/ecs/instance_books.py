"""The one owner of an instance's books: everything that changes what placement sees of an
instance (what its tasks hold, its status, its registration) happens here, under the row's
lock, with its version moved in SQL, and reported to the placement cache. A placement that
saw the instance before such a change can then never pass its version check after it
(``task_placement``), so a DRAINING or deregistered instance never takes a task that raced
with the change, and the cached snapshot follows the store by construction
(``tests/ecs/test_placement_cache_property.py`` checks it against fresh reads).
"""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, Select, bindparam, select, update

from dockyard.context import RequestContext
from dockyard.errors import ServerException
from dockyard.placement.model import InstanceSnapshot, PlacementRequest, PlacementResult
from dockyard.store import direct
from dockyard.store.expressions import in_params, in_values, padded
from dockyard.store.schema import container_instances

_instances = container_instances.c
# Built once: a statement built per call costs more than the database's work on it.
# The chosen instances as the store has them, locked until the commit (FOR UPDATE is a no-op
# on SQLite, whose writer holds the whole database).


@functools.lru_cache(maxsize=16)
def _current(count: int) -> Select[Any]:
    return (
        select(
            _instances.id,
            _instances.version,
            _instances.desired_version,
            _instances.used_ports,
            _instances.used_gpus,
        )
        .where(in_params(_instances.id, "id", count))
        .order_by(_instances.id)
        .with_for_update()
    )


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
_LOCK = (
    select(container_instances)
    .where(_instances.id.in_(bindparam("ids", expanding=True)))
    .order_by(_instances.id)
    .with_for_update()
)


class Conflict(Exception):
    """An instance changed between snapshot and commit."""


def gpus_of(pick: InstanceSnapshot, request: PlacementRequest) -> list[str]:
    """The GPU ids a task placed on ``pick`` (as snapshotted at its turn) holds."""
    return list(pick.free_gpus[: request.demand.gpus])


@dataclasses.dataclass(frozen=True, slots=True)
class Reserved:
    """Each chosen instance's state after a reservation, and its desired version then (what
    its new tasks are stamped with for the agent's delta frames)."""

    after: dict[int, InstanceSnapshot]
    desired_versions: dict[int, int]


def reserve(ctx: RequestContext, result: PlacementResult, request: PlacementRequest) -> Reserved:
    """Reserve what the placed tasks hold and mark the instances' desired state changed;
    returns each chosen instance's state after it.

    First the chosen instances are read and locked: if one is not at the version placement
    saw, ``Conflict`` is raised with nothing written (the caller's ``lock_scope`` lets the
    locks go before it retries). Then one executemany per statement shape reserves them all.
    """
    demand = request.demand
    taken: dict[int, list[InstanceSnapshot]] = defaultdict(list)
    for instance in result.chosen:
        taken[instance.id].append(instance)
    if not taken:
        return Reserved({}, {})
    ids = sorted(taken)
    current = {row.id: row for row in direct.execute(ctx.conn, _current(len(ids)), in_values("id", ids))}
    if any(current.get(i) is None or current[i].version != picks[0].version for i, picks in taken.items()):
        raise Conflict()
    after: dict[int, InstanceSnapshot] = {}
    plain: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
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
            row = current[instance_id]
            params["ports"] = sorted(set(row.used_ports) | demand.ports)
            params["gpus"] = list(row.used_gpus) + [gpu for pick in picks for gpu in gpus_of(pick, request)]
            held.append(params)
        else:
            plain.append(params)
        after[instance_id] = dataclasses.replace(picks[-1].take(demand), version=first.version + 1)
    for statement, rows in ((_RESERVE, plain), (_RESERVE_HELD, held)):
        # The rows are locked and were just checked, so each matches; anything else is a bug,
        # and failing the request rolls its writes back.
        if rows and direct.write(ctx.conn, statement, rows).rowcount != len(rows):
            raise ServerException("An instance changed while it was locked for a placement.")
    # Each row was locked as read and moved once by its UPDATE, so its desired version is one on.
    return Reserved(after, {instance_id: current[instance_id].desired_version + 1 for instance_id in ids})


def lock(ctx: RequestContext, ids: Iterable[int]) -> dict[int, Row[Any]]:
    """These instances as they are now, locked until the commit, in id order (the order every
    writer takes them in)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {row.id: row for row in ctx.conn.execute(_LOCK, {"ids": wanted})}


def _changed(ctx: RequestContext, cluster_name: str, ids: Iterable[int]) -> None:
    from dockyard.ecs import placement_cache  # it reads container_instances, which imports this

    placement_cache.changed(ctx, cluster_name, ids)


def set_status(ctx: RequestContext, cluster_name: str, ids: Iterable[int], status: str) -> list[int]:
    """Move these instances to ACTIVE or DRAINING; the ids that changed."""
    changed = [row.id for row in lock(ctx, ids).values() if row.status != status]
    if changed:
        ctx.conn.execute(
            update(container_instances)
            .where(_instances.id.in_(changed))
            .values(status=status, version=_instances.version + 1)
        )
        _changed(ctx, cluster_name, changed)
    return changed


def retire(ctx: RequestContext, cluster_name: str, instance_id: int) -> None:
    """Deregister: INACTIVE, holding nothing (its tasks were stopped first, under this lock)."""
    ctx.conn.execute(
        update(container_instances)
        .where(_instances.id == instance_id)
        .values(
            status="INACTIVE",
            version=_instances.version + 1,
            desired_version=_instances.desired_version + 1,
            used_cpu=0,
            used_memory=0,
            used_ports=[],
            used_gpus=[],
        )
    )
    _changed(ctx, cluster_name, [instance_id])


@functools.lru_cache(maxsize=16)
def _held(count: int) -> Select[Any]:
    return (
        select(
            _instances.id,
            _instances.used_cpu,
            _instances.used_memory,
            _instances.used_ports,
            _instances.used_gpus,
        )
        .where(in_params(_instances.id, "id", count))
        .order_by(_instances.id)
        .with_for_update()
    )


_RELEASE = (
    update(container_instances)
    .where(_instances.id == bindparam("row_id"))
    .values(
        used_cpu=bindparam("cpu"),
        used_memory=bindparam("memory"),
        used_ports=bindparam("ports"),
        used_gpus=bindparam("gpus"),
        version=_instances.version + 1,
    )
)


def release(ctx: RequestContext, held: Iterable[Row[Any]]) -> None:
    """Give what these tasks held back to their instances (once: callers check they were not
    STOPPED): one locked read and one UPDATE per instance, with the tasks' sums, however many
    of its tasks stop together (an agent's report frame stops dozens at once)."""
    by_instance: dict[int, list[Row[Any]]] = defaultdict(list)
    for task in held:
        if task.container_instance_id is not None:
            by_instance[task.container_instance_id].append(task)
    if not by_instance:
        return
    ids = sorted(by_instance)
    rows = []
    changed: dict[str, list[int]] = defaultdict(list)
    wanted = padded(ids)
    for instance in direct.execute(ctx.conn, _held(len(wanted)), in_values("id", wanted)):
        tasks_held = by_instance[instance.id]
        ports = {port for task in tasks_held for port in task.ports}
        gpus = {gpu for task in tasks_held for gpu in task.gpus}
        rows.append(
            {
                "row_id": instance.id,
                "cpu": max(0, instance.used_cpu - sum(task.cpu for task in tasks_held)),
                "memory": max(0, instance.used_memory - sum(task.memory for task in tasks_held)),
                "ports": [port for port in instance.used_ports if port not in ports],
                "gpus": [gpu for gpu in instance.used_gpus if gpu not in gpus],
            }
        )
        for cluster_name in {task.cluster_name for task in tasks_held}:
            changed[cluster_name].append(instance.id)
    if rows:
        direct.write(ctx.conn, _RELEASE, rows)
    for cluster_name, instance_ids in changed.items():
        _changed(ctx, cluster_name, instance_ids)
