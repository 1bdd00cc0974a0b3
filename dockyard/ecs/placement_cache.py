"""The placement snapshot cache: each cluster's instances as placement sees them, kept in
memory by every control-plane process and brought up to date by what changed.

RunTask places on a snapshot of all the cluster's instances (resources, attributes, task
groups). Reading that from the store on every request costs O(N) rows, attributes and
task counts; at thousands of instances that is most of a request. So:

- **A version per cluster.** ``clusters.placement_version`` moves forward with every
  committed change placement sees: an instance registered, deregistered, drained or given
  an agent update; attributes put or deleted; a task placed, asked to stop or stopped. The
  change also stamps each instance it touched with the new version
  (``container_instances.placement_version``). Domain code reports a change with
  ``changed(ctx, cluster, ids)``; the counter and the stamps are written once per request,
  right before its commit (``ctx.before_commit``), as its last writes: the cluster row is
  locked only until the commit, and always after the instance rows, one lock order for
  every request (no deadlocks).
- **A cache per process.** For each (account, region, cluster) a process keeps the snapshot
  it last read and the version it read it at. A request reads the cluster's version (with
  the cluster row it looks up anyway); when the cache is older it reads only the instances
  stamped since (one index range) with their attributes and task counts. The version is
  read before the rows, so a cache is never labelled newer than what it holds.
- **Write-through.** The request that commits a placement knows the instances' new state.
  If its own bump took the counter from the cached version to the next one, nothing else
  changed in between, and the cache moves to the new version without reading anything.
- **Only a hint.** Every placement is still committed with the per-instance version check
  (``task_placement``): a stale snapshot makes that check fail, the request reads those
  instances again (for itself only: the cache only ever holds committed state) and places
  again. A stale cache can cost a retry, never an overcommit. Several processes on one
  PostgreSQL each keep their own cache; the counter and stamps tell each what the others did.
- **Connectivity is time.** Agents heartbeat without bumping anything, so the cache keeps
  each instance's ``last_seen_at`` and derives ``agentConnected`` at the request's clock: a
  heap of timeouts marks an agent disconnected when its 30 s run out (only that instance is
  touched), and the last-seen column is read again every ``SEEN_REFRESH_SECONDS``, so a
  heartbeat, a closed or a reopened agent connection shows within a second.

``DOCKYARD_PLACEMENT_CACHE=off`` reads the snapshot from the store on every request (the
behaviour the cache replaced; for measurements and for ruling the cache out).
"""

from __future__ import annotations

import dataclasses
import heapq
import os
import threading
import weakref
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Row, bindparam, func, select, update

from dockyard.context import RequestContext
from dockyard.ecs import task_states
from dockyard.ecs.container_instances import AGENT_TIMEOUT_SECONDS
from dockyard.placement.engine import Placer
from dockyard.placement.engine import place as place_once
from dockyard.placement.model import InstanceSnapshot, PlacementRequest, PlacementResult
from dockyard.placement.ranking import CandidateOrder
from dockyard.store import direct
from dockyard.store.expressions import one_of
from dockyard.store.schema import attributes, clusters, container_instances, tasks

ENABLED = os.environ.get("DOCKYARD_PLACEMENT_CACHE", "on").lower() not in ("off", "0", "false", "no")
SEEN_REFRESH_SECONDS = 1.0
MAX_CLUSTERS = 1024  # per process; the least recently used go first
MAX_PLACERS = 8  # request shapes kept per cluster; the least recently used go first

_instances = container_instances.c
_SNAPSHOT_COLUMNS = (
    _instances.id,
    _instances.arn,
    _instances.ec2_instance_id,
    _instances.status,
    _instances.external,
    _instances.total_cpu,
    _instances.used_cpu,
    _instances.total_memory,
    _instances.used_memory,
    _instances.used_ports,
    _instances.reserved_ports,
    _instances.total_gpus,
    _instances.used_gpus,
    _instances.version,
    _instances.registered_at,
    _instances.last_seen_at,
    _instances.version_info,
)
_IN_CLUSTER = (
    (_instances.account_id == bindparam("in_account"))
    & (_instances.region == bindparam("in_region"))
    & (_instances.cluster_name == bindparam("in_cluster"))
)
_BUMP = (
    update(clusters)
    .where(
        clusters.c.account_id == bindparam("in_account"),
        clusters.c.region == bindparam("in_region"),
        clusters.c.name == bindparam("in_cluster"),
    )
    .values(placement_version=clusters.c.placement_version + 1)
    .returning(clusters.c.placement_version)
)
_STAMP = (
    update(container_instances)
    .where(_instances.id == bindparam("row_id"))
    .values(placement_version=bindparam("stamp"))
)
_WHOLE_CLUSTER = select(*_SNAPSHOT_COLUMNS).where(_IN_CLUSTER).order_by(_instances.id)
_CLUSTER_ATTRIBUTES = select(attributes.c.target_id, attributes.c.name, attributes.c.value).where(
    attributes.c.account_id == bindparam("in_account"),
    attributes.c.region == bindparam("in_region"),
    attributes.c.cluster_name == bindparam("in_cluster"),
)
_TASK_GROUPS = (
    select(tasks.c.container_instance_id, tasks.c.group_name, tasks.c.desired_status, func.count())
    .where(one_of(tasks.c.last_status, task_states.LIVE))
    .group_by(tasks.c.container_instance_id, tasks.c.group_name, tasks.c.desired_status)
)
_CLUSTER_TASK_GROUPS = _TASK_GROUPS.where(
    tasks.c.account_id == bindparam("in_account"),
    tasks.c.region == bindparam("in_region"),
    tasks.c.cluster_name == bindparam("in_cluster"),
    tasks.c.container_instance_id.is_not(None),
)
_LAST_SEEN = select(_instances.id, _instances.last_seen_at).where(
    _IN_CLUSTER, _instances.status != "INACTIVE"
)


# -- reading snapshots from the store ----------------------------------------------------


@dataclass
class Read:
    """Instances as the store has them now: their snapshots, last signs of life, and the ids
    read that are deregistered (left out of ``snapshots`` unless asked for)."""

    snapshots: list[InstanceSnapshot]
    last_seen: dict[int, float | None]
    inactive: set[int]
    now: float  # the clock ``agent_connected`` was derived at


def read_instances(
    ctx: RequestContext,
    cluster_name: str,
    *,
    ids: Iterable[int] | None = None,
    stamped_after: int | None = None,
    include_inactive: bool = False,
) -> Read:
    """The cluster's instances (all, ``ids`` only, or those stamped after a version), in id
    order, with their attributes and task groups: three queries."""
    scope = {"in_account": ctx.account_id, "in_region": ctx.region, "in_cluster": cluster_name}
    whole_cluster = ids is None and stamped_after is None
    if whole_cluster:  # a process's first look at a cluster: thousands of rows, on the driver
        rows = direct.execute(ctx.conn, _WHOLE_CLUSTER, scope).all()
    else:
        query = _WHOLE_CLUSTER
        if ids is not None:
            query = query.where(_instances.id.in_(sorted(set(ids))))
        if stamped_after is not None:
            query = query.where(_instances.placement_version > stamped_after)
        rows = ctx.conn.execute(query, scope).all()
    if not rows:
        return Read([], {}, set(), ctx.now)
    attrs: dict[str, dict[str, str | None]] = defaultdict(dict)
    if whole_cluster:
        found = direct.execute(ctx.conn, _CLUSTER_ATTRIBUTES, scope)
    else:
        found = ctx.conn.execute(
            _CLUSTER_ATTRIBUTES.where(attributes.c.target_id.in_([row.arn for row in rows])), scope
        )
    for target, name, value in found:
        attrs[target][name] = value
    groups, running = _task_groups(ctx, cluster_name, None if whole_cluster else [row.id for row in rows])
    inactive = {row.id for row in rows if row.status == "INACTIVE"}
    snapshots = [
        _snapshot(row, attrs.get(row.arn, {}), running[row.id], groups.get(row.id, {}), ctx.now)
        for row in rows
        if include_inactive or row.id not in inactive
    ]
    return Read(snapshots, {row.id: row.last_seen_at for row in rows}, inactive, ctx.now)


def _task_groups(
    ctx: RequestContext, cluster_name: str, ids: list[int] | None
) -> tuple[dict[int, dict[str, int]], Counter[int]]:
    """Per instance: its tasks per group (desired RUNNING, as ECS counts them for spread and
    distinctInstance) and all its live tasks."""
    if ids is None:
        scope = {"in_account": ctx.account_id, "in_region": ctx.region, "in_cluster": cluster_name}
        found = direct.execute(ctx.conn, _CLUSTER_TASK_GROUPS, scope)
    else:
        found = ctx.conn.execute(_TASK_GROUPS.where(tasks.c.container_instance_id.in_(ids)))
    groups: dict[int, dict[str, int]] = defaultdict(dict)
    running: Counter[int] = Counter()
    for instance_id, group, desired, count in found:
        running[instance_id] += count
        if group and desired == "RUNNING":
            groups[instance_id][group] = groups[instance_id].get(group, 0) + count
    return groups, running


def _connected(last_seen: float | None, now: float) -> bool:
    return last_seen is not None and now - last_seen <= AGENT_TIMEOUT_SECONDS


def _snapshot(
    row: Any, attrs: dict[str, str | None], running: int, groups: dict[str, int], now: float
) -> InstanceSnapshot:
    used_gpus = set(row.used_gpus)
    return InstanceSnapshot(
        id=row.id,
        arn=row.arn,
        ec2_instance_id=row.ec2_instance_id,
        status=row.status,
        agent_connected=_connected(row.last_seen_at, now),
        external=row.external,
        free_cpu=row.total_cpu - row.used_cpu,
        free_memory=row.total_memory - row.used_memory,
        used_ports=frozenset(row.used_ports) | frozenset(row.reserved_ports),
        free_gpus=tuple(gpu for gpu in row.total_gpus if gpu not in used_gpus),
        attributes=attrs,
        version=row.version,
        running_tasks_count=running,
        registered_at=row.registered_at,
        task_groups=groups,
        agent_version=row.version_info.get("agentVersion"),
    )


# -- the cache ---------------------------------------------------------------------------


@dataclass
class ClusterCache:
    """One cluster's snapshot in one process. Every change stamped at or below ``version`` is
    in it (some later ones may be too); it only ever holds committed state."""

    version: int = -1  # -1: never read
    cluster_id: int | None = None  # the cluster row it caches (a purged name may come back anew)
    instances: dict[int, InstanceSnapshot] = field(default_factory=dict)  # in id order
    last_seen: dict[int, float | None] = field(default_factory=dict)
    seen_read_at: float = float("-inf")
    # When each connected agent times out unless heard from, earliest first (entries go stale
    # when an agent is heard from again; they are checked when they come up).
    timeouts: list[tuple[float, int]] = field(default_factory=list)
    ordered: list[InstanceSnapshot] | None = None  # ``instances`` as a list, built on demand
    # The placement pipeline and ranking of each recent request shape over these instances,
    # kept current with them, so a request only pays for what changed (``engine.Placer``).
    placers: OrderedDict[Hashable, Placer] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, instance: InstanceSnapshot) -> None:
        """A changed instance (already in ``instances``'s order)."""
        self.instances[instance.id] = instance
        self.ordered = None
        for placer in self.placers.values():
            placer.set(instance)

    def load(self, read: Read) -> None:
        """Take in what was read: new and changed instances, deregistered ones gone."""
        for instance_id in read.inactive:
            self.instances.pop(instance_id, None)
            self.last_seen.pop(instance_id, None)
            for placer in self.placers.values():
                placer.discard(instance_id)
        fresh = {instance.id: instance for instance in read.snapshots if instance.id not in read.inactive}
        new = [instance_id for instance_id in fresh if instance_id not in self.instances]
        if new and self.instances and min(new) < next(reversed(self.instances)):
            self.instances = dict(sorted({**self.instances, **fresh}.items()))  # keep id order
        else:
            self.instances.update(fresh)  # a new instance has the highest id so far
        for instance_id, instance in fresh.items():
            self.put(instance)
            seen = self.last_seen[instance_id] = read.last_seen.get(instance_id)
            if instance.agent_connected and seen is not None:
                heapq.heappush(self.timeouts, (seen + AGENT_TIMEOUT_SECONDS, instance_id))
        self.ordered = None

    def refresh_last_seen(self, ctx: RequestContext, cluster_name: str) -> None:
        """Read every agent's last sign of life again and derive connectivity from it.

        Only the instances whose last sign of life moved are looked at (a tenth of a fleet
        heartbeats in a second); the others' timeouts are in the heap already."""
        scope = {"in_account": ctx.account_id, "in_region": ctx.region, "in_cluster": cluster_name}
        last_seen, instances = self.last_seen, self.instances
        moved = [
            (instance_id, seen)
            for instance_id, seen in direct.execute(ctx.conn, _LAST_SEEN, scope)
            if instance_id in instances and last_seen.get(instance_id, -1.0) != seen
        ]
        self.seen_read_at = ctx.now
        for instance_id, seen in moved:
            last_seen[instance_id] = seen
            instance = instances[instance_id]
            connected = _connected(seen, ctx.now)
            if connected != instance.agent_connected:
                self.put(dataclasses.replace(instance, agent_connected=connected))
            if connected and seen is not None:
                heapq.heappush(self.timeouts, (seen + AGENT_TIMEOUT_SECONDS, instance_id))
        self.expire(ctx.now)

    def expire(self, now: float) -> None:
        """Mark disconnected the agents that timed out by ``now``: only those, earliest first."""
        timeouts = self.timeouts
        while timeouts and timeouts[0][0] < now:
            _, instance_id = heapq.heappop(timeouts)
            instance = self.instances.get(instance_id)
            if (
                instance is not None
                and instance.agent_connected
                and not _connected(self.last_seen.get(instance_id), now)
            ):
                self.put(dataclasses.replace(instance, agent_connected=False))

    def snapshot(self) -> list[InstanceSnapshot]:
        if self.ordered is None:
            self.ordered = list(self.instances.values())
        return self.ordered

    def placer(self, request: PlacementRequest, order: CandidateOrder) -> Placer:
        """The kept placer of this request's shape, built on first use."""
        shape = _shape(request)
        placer = self.placers.get(shape)
        if placer is None:
            placer = self.placers[shape] = Placer(request, self.snapshot(), order)
            if len(self.placers) > MAX_PLACERS:
                self.placers.popitem(last=False)
        else:
            self.placers.move_to_end(shape)
        return placer

    def freshen(self, ctx: RequestContext, cluster_name: str, version: int) -> None:
        """Bring the cache up to ``version`` (a cluster version read in this request)."""
        if self.version < 0:
            self.load(read_instances(ctx, cluster_name))
            self.seen_read_at = ctx.now
            self.version = version
        elif self.version < version:
            self.load(read_instances(ctx, cluster_name, stamped_after=self.version))
            self.version = version
        if ctx.now - self.seen_read_at >= SEEN_REFRESH_SECONDS:
            self.refresh_last_seen(ctx, cluster_name)
        else:
            self.expire(ctx.now)


def _shape(request: PlacementRequest) -> Hashable:
    """What makes two requests place alike, whatever their count."""
    return (
        request.demand,
        tuple(tuple(sorted(item.items())) for item in request.constraints),
        tuple(tuple(sorted(item.items())) for item in request.strategies),
    )


class _Registry:
    """Every cluster cache of one store (engine), least recently used first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clusters: OrderedDict[tuple[str, str, str], ClusterCache] = OrderedDict()

    def get(
        self, key: tuple[str, str, str], create: bool = True, cluster_id: int | None = None
    ) -> ClusterCache | None:
        with self.lock:
            cache = self.clusters.get(key)
            if cache is not None and cluster_id is not None and cache.cluster_id not in (None, cluster_id):
                cache = None  # the cluster was purged and created again: its versions start over
            if cache is not None:
                self.clusters.move_to_end(key)
            elif create:
                cache = self.clusters[key] = ClusterCache(cluster_id=cluster_id)
                if len(self.clusters) > MAX_CLUSTERS:
                    self.clusters.popitem(last=False)
            return cache


_registries: weakref.WeakKeyDictionary[Engine, _Registry] = weakref.WeakKeyDictionary()
_registries_lock = threading.Lock()


def _registry(ctx: RequestContext) -> _Registry:
    engine = ctx.server.engine
    with _registries_lock:
        registry = _registries.get(engine)
        if registry is None:
            registry = _registries[engine] = _Registry()
        return registry


def snapshot(ctx: RequestContext, cluster: Row[Any]) -> list[InstanceSnapshot]:
    """The cluster's registered instances for placement, in id order, at least as fresh as
    ``cluster`` (a row read in this request, so its ``placement_version`` was read before
    anything below). Must be called before the request changes anything placement sees."""
    if not ENABLED or _pending(ctx):
        # With changes of its own not yet committed, the request must see them; the cache
        # holds only committed state.
        return read_instances(ctx, cluster.name).snapshots
    cache = _cache(ctx, cluster)
    with cache.lock:
        cache.freshen(ctx, cluster.name, int(cluster.placement_version))
        return cache.snapshot()


def place(
    ctx: RequestContext, cluster: Row[Any], request: PlacementRequest, order: CandidateOrder
) -> PlacementResult:
    """Place ``request`` on the cluster's instances as ``snapshot`` gives them, with the kept
    placer of the request's shape: the cost is the instances that changed since the last
    request, not the cluster's size. Same conditions as ``snapshot``."""
    if not ENABLED or _pending(ctx):
        return place_once(read_instances(ctx, cluster.name).snapshots, request, order)
    cache = _cache(ctx, cluster)
    with cache.lock:
        cache.freshen(ctx, cluster.name, int(cluster.placement_version))
        return cache.placer(request, order).place(request.count)


def _cache(ctx: RequestContext, cluster: Row[Any]) -> ClusterCache:
    cache = _registry(ctx).get((ctx.account_id, ctx.region, cluster.name), cluster_id=cluster.id)
    assert cache is not None
    return cache


# -- reporting changes ---------------------------------------------------------------------


class _Flush:
    """One request's changes in one cluster: stamped right before the request commits."""

    def __init__(self, ctx: RequestContext, cluster_name: str) -> None:
        self.ctx = ctx
        self.cluster_name = cluster_name
        self.ids: set[int] = set()
        self.placed: dict[int, InstanceSnapshot] | None = {}  # None: a change without a new state

    def __call__(self) -> None:
        ctx = self.ctx
        scope = {"in_account": ctx.account_id, "in_region": ctx.region, "in_cluster": self.cluster_name}
        bumped = direct.write(ctx.conn, _BUMP, scope).returned
        if bumped is None:  # the cluster is gone (deleted in this request)
            return
        version = bumped[0]
        direct.write(ctx.conn, _STAMP, [{"row_id": i, "stamp": version} for i in sorted(self.ids)])
        if self.placed is not None and self.placed.keys() == self.ids:
            placed = self.placed
            key = (ctx.account_id, ctx.region, self.cluster_name)
            registry = _registry(ctx)
            ctx.after_writes.append(lambda: _write_through(registry, key, version, placed))


def _write_through(
    registry: _Registry, key: tuple[str, str, str], version: int, placed: Mapping[int, InstanceSnapshot]
) -> None:
    """After the commit of ``version``: if the cache holds the version just before it, it
    holds exactly the state this request changed, and moves to ``version`` with no read."""
    cache = registry.get(key, create=False)
    if cache is None:
        return
    with cache.lock:
        if cache.version != version - 1 or not placed.keys() <= cache.instances.keys():
            return
        for instance_id, instance in placed.items():
            connected = cache.instances[instance_id].agent_connected  # derived here, not by the request
            cache.put(dataclasses.replace(instance, agent_connected=connected))
        cache.version = version


def _pending(ctx: RequestContext) -> bool:
    return any(isinstance(hook, _Flush) for hook in ctx.before_commit)


def changed(
    ctx: RequestContext,
    cluster_name: str,
    instance_ids: Iterable[int | None],
    *,
    placed: Mapping[int, InstanceSnapshot] | None = None,
    lock: bool = False,
) -> None:
    """Report that these instances changed in a way placement sees (stamped at commit).

    ``placed``: their state after a placement this request committed, to write through.
    ``lock``: take their row locks now, for a request that has not written them (yet) and
    holds or will take the cluster row: instance rows first, cluster row last, always.
    """
    ids = {instance_id for instance_id in instance_ids if instance_id is not None}
    if not ids:
        return
    if lock:
        ctx.conn.execute(select(_instances.id).where(_instances.id.in_(sorted(ids))).with_for_update())
    flush = next(
        (
            hook
            for hook in ctx.before_commit
            if isinstance(hook, _Flush) and hook.cluster_name == cluster_name
        ),
        None,
    )
    if flush is None:
        flush = _Flush(ctx, cluster_name)
        ctx.before_commit.append(flush)
    flush.ids |= ids
    if flush.placed is not None and placed is not None:
        flush.placed.update(placed)
    else:
        flush.placed = None


def changed_targets(ctx: RequestContext, cluster_name: str, arns: Iterable[str]) -> None:
    """``changed`` for instances named by ARN (attribute targets), locking their rows now."""
    wanted = sorted(set(arns))
    if not wanted:
        return
    rows = ctx.conn.execute(select(_instances.id).where(_instances.arn.in_(wanted)).with_for_update()).all()
    changed(ctx, cluster_name, [row.id for row in rows])


def forget(engine: Engine) -> None:
    """Drop every cluster cache of this store: writes they may have read were lost (a group
    commit failed), so the next requests read the store again."""
    with _registries_lock:
        _registries.pop(engine, None)
