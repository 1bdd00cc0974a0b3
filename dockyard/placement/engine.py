"""The placement pipeline: filter the feasible instances, rank them, pick one per task.

``place`` is a pure function of its inputs: a snapshot of the cluster's instances, one
immutable ``PlacementRequest`` and the candidate-order source (a seeded ``random.Random`` in
production, ``FixedOrder`` or a fixed seed in tests). The same inputs always give the same
placements, so the caller can commit the result with a version check and simply run it again
on conflict.

The pipeline (``build_pipeline``, whose order is the order of the stages):
1. the cheap filters: status, agent, launch type, memory, CPU, GPUs, ports, required
   attributes (``filters.DEFAULT_FILTERS``), each dropped when it can't reject anything for
   this request;
2. the placement constraints: distinctInstance, then each memberOf expression (parsed once);
3. the user's strategies in the user's order (RunTask's default, random, when none), the first
   deciding and each later one breaking the ties of those before it.

Every instance a filter rejects keeps the ECS reason of the first filter that said no and the
stage's name, reported when a task can't be placed; every placed task keeps the score each
strategy gave it (``PlacementResult.scores``).

Cost, for N instances, F filters, S strategies, G distinct spread buckets (e.g. zones) and
k tasks:
- building a ``Placer`` (validating and parsing, O(F + S), expressions cached; filtering every
  instance, O(N·F); ranking the feasible ones, O(N log N) at worst);
- keeping it current: O(F + S + log N) per instance that changed;
- placing: per task, comparing the best key of each bucket group, O(G·S), and moving the
  winner within the ranking, O(F + log N); then as much again to put the touched instances
  back. So a request costs O(k·(F + G·S + log N)) on a kept ``Placer``, whatever N is, and
  O(N·F) more when built for it alone (``place``).
G is 1 without a spread on an attribute, else the number of values it has (3 zones...).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.placement.constraints import constraint_filters
from dockyard.placement.filters import DEFAULT_FILTERS, Filter
from dockyard.placement.model import (
    Failure,
    InstanceSnapshot,
    PlacementRequest,
    PlacementResult,
)
from dockyard.placement.ranking import CandidateOrder, Ranking
from dockyard.placement.strategies import Scorer, scorers

# The group of a request that has none, so distinctInstance and spread still see its tasks;
# NUL can't be in an ECS group name.
REQUEST_GROUP = "\0request"


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The stages of one request, in the order they run."""

    filters: tuple[Filter, ...]
    scorers: tuple[Scorer, ...]

    def check(self, instance: InstanceSnapshot, request: PlacementRequest) -> Failure | None:
        """None when ``instance`` can take one more task, else why not."""
        for stage in self.filters:
            reason = stage.reject(instance, request)
            if reason is not None:
                return Failure(reason=reason, arn=instance.arn, detail=stage.name)
        return None


def build_pipeline(request: PlacementRequest, filters: Sequence[Filter] = DEFAULT_FILTERS) -> Pipeline:
    """Check the request's constraints and strategies and line up its stages.

    Raises InvalidParameterException for an invalid constraint, expression or strategy.
    """
    return Pipeline(
        filters=tuple(
            stage for stage in (*filters, *constraint_filters(request.constraints)) if stage.applies(request)
        ),
        scorers=scorers(request.strategies),
    )


class Placer:
    """The pipeline and the ranking of one request shape, kept over a changing cluster.

    Built once from a snapshot of the cluster; then ``set`` (an instance registered or
    changed) and ``discard`` (gone) keep it current at O(F + log N) per changed instance, and
    ``place`` answers a request of this shape without looking at the instances that did not
    change. ``place`` leaves the placer as it found it: the tasks it places are only the
    caller's to commit, and the caller reports what it committed with ``set``.
    """

    def __init__(
        self,
        request: PlacementRequest,
        instances: Sequence[InstanceSnapshot],
        order: CandidateOrder,
        filters: Sequence[Filter] = DEFAULT_FILTERS,
    ) -> None:
        if request.demand.group is None:
            request = dataclasses.replace(
                request, demand=dataclasses.replace(request.demand, group=REQUEST_GROUP)
            )
        self.request = request
        self.pipeline = build_pipeline(request, filters)
        self.ranking = Ranking(self.pipeline.scorers, request, order)
        cluster = sorted(instances, key=lambda instance: instance.id)
        self.instances = {instance.id: instance for instance in cluster}
        self.rejected: dict[int, Failure | tuple[InstanceSnapshot, str, str]] = {}
        for instance in cluster:
            self.ranking.count(instance)
        self.ranking.add_all(_feasible(cluster, request, self.pipeline.filters, self.rejected))

    def set(self, instance: InstanceSnapshot) -> None:
        """``instance`` joined the cluster or is now in this state."""
        ranking = self.ranking
        if self.instances.get(instance.id) is not None:
            ranking.remove(instance.id)
            self.rejected.pop(instance.id, None)
        self.instances[instance.id] = instance
        ranking.count(instance)
        failure = self.pipeline.check(instance, self.request)
        if failure is None:
            ranking.add(instance)
        else:
            self.rejected[instance.id] = failure

    def discard(self, instance_id: int) -> None:
        """The instance left the cluster (deregistered)."""
        if self.instances.pop(instance_id, None) is not None:
            self.rejected.pop(instance_id, None)
            self.ranking.forget(instance_id)

    def place(self, count: int) -> PlacementResult:
        """Choose an instance for each of ``count`` tasks of this shape.

        ``chosen`` holds, per placed task in order, its instance as it was at that task's
        turn: the same id, ARN and version as given, with the resources this request's
        earlier tasks took from it already gone (so ``free_gpus[:gpus]`` are the GPUs this
        task gets). When a task can't be placed, ``failures`` holds one entry per instance
        with the reason it refused, and the remaining tasks are not placed. An empty cluster
        gives no failures: the caller reports that there are no container instances.
        """
        demand = self.request.demand
        before: dict[int, InstanceSnapshot] = {}  # each instance this request touched, as it was
        chosen: list[InstanceSnapshot] = []
        scores: list[tuple[tuple[str, float], ...]] = []
        others: list[int] = []
        failures: tuple[Failure, ...] = ()
        try:
            for _ in range(count):
                best = self.ranking.pop_best()
                if best is None:
                    failures = tuple(_failure(self.rejected[key]) for key in sorted(self.rejected))
                    break
                winner_id, explanation = best
                winner = self.instances[winner_id]
                before.setdefault(winner_id, winner)
                chosen.append(winner)
                scores.append(explanation)
                others.append(len(self.ranking.where))  # the candidates left: its runners-up
                self.set(winner.take(demand))
        finally:
            for instance in before.values():
                self.set(instance)
        return PlacementResult(tuple(chosen), failures, tuple(scores), tuple(others))


def place(
    instances: Sequence[InstanceSnapshot],
    request: PlacementRequest,
    rng: CandidateOrder,
    filters: Sequence[Filter] = DEFAULT_FILTERS,
) -> PlacementResult:
    """Choose an instance for each of the request's tasks (``Placer.place``, built for one
    request)."""
    return Placer(request, instances, rng, filters).place(request.count)


def _failure(rejection: Failure | tuple[InstanceSnapshot, str, str]) -> Failure:
    if isinstance(rejection, Failure):
        return rejection
    instance, reason, stage = rejection
    return Failure(reason=reason, arn=instance.arn, detail=stage)


def _feasible(
    cluster: list[InstanceSnapshot],
    request: PlacementRequest,
    filters: tuple[Filter, ...],
    rejected: dict[int, Failure | tuple[InstanceSnapshot, str, str]],
) -> list[InstanceSnapshot]:
    """The instances every filter accepts; the others go to ``rejected`` with their reason.

    A rejection is kept as a plain tuple; it only becomes a ``Failure`` if it is reported.
    """
    survivors = cluster
    for stage in filters:  # stage by stage: one tight loop per filter over fewer instances
        reject = stage.reject
        verdicts = [reject(instance, request) for instance in survivors]
        if not any(verdicts):
            continue
        kept = []
        name = stage.name
        for instance, reason in zip(survivors, verdicts, strict=True):
            if reason is None:
                kept.append(instance)
            else:
                rejected[instance.id] = (instance, reason, name)
        survivors = kept
    return survivors
