"""The candidates of one request shape, arranged so the best one is found without a full scan.

Placing a task changes one instance: its free resources, its group count. Only ``spread`` on
an attribute reaches further (every instance in the winner's zone now scores one more), and
it does so for a whole bucket at once. So candidates are kept in groups with the same spread
buckets (e.g. one group per zone); inside a group, in cells with the same local key (the
binpack and spread-instance scores in chain order), the cells' keys in a sorted list. The
best candidate is then the best cell over the groups, comparing each group's top key with its
bucket counts woven in the user's order: O(G·S) for G groups and S strategies, plus
O(log N) to move an instance between cells, instead of O(N·S) per task.

Every instance can be changed or taken out on its own (``add``/``remove`` for candidates,
``count``/``uncount`` for the spread tallies, which count every instance, candidate or not),
so a ranking outlives one request: the snapshot cache keeps one per request shape and feeds
it only the instances that changed (``engine.Placer``).

Ties: when the chain ends with ``random``, the winner is drawn uniformly among every candidate
of the tied cells (a draw is an index into cells kept in id order); otherwise the earliest in
the candidate order wins, where each candidate's rank is drawn from the order source when it
first becomes a candidate and kept while it stays in the ranking. ``random.Random`` in
production; ``FixedOrder`` in tests, with which every tie and every draw goes to the lowest
instance id.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Sequence
from typing import Protocol

from dockyard.placement.model import InstanceSnapshot, PlacementRequest
from dockyard.placement.strategies import (
    Binpack,
    Random,
    Scorer,
    SpreadAttribute,
    SpreadInstances,
)

Key = tuple[float, ...]
Entry = tuple[float, int]  # (rank, instance id): the order inside a cell


class CandidateOrder(Protocol):
    """Where ties and ``random`` draws come from; ``random.Random`` is one."""

    def random(self) -> float: ...

    def randrange(self, start: int, /) -> int: ...


class FixedOrder:
    """No randomness, for tests: every tie and every random draw goes to the lowest id."""

    def random(self) -> float:
        return 0.0

    def randrange(self, start: int, /) -> int:
        return 0


class _Group:
    """Candidates with the same spread buckets, in cells by local key; both kept sorted."""

    __slots__ = ("buckets", "cells", "keys")

    def __init__(self, buckets: tuple[Hashable, ...]) -> None:
        self.buckets = buckets
        self.cells: dict[Key, list[Entry]] = {}
        self.keys: list[Key] = []

    def insert(self, key: Key, entry: Entry) -> None:
        cell = self.cells.get(key)
        if cell is None:
            self.cells[key] = [entry]
            bisect.insort(self.keys, key)
        else:
            bisect.insort(cell, entry)

    def delete(self, key: Key, entry: Entry) -> None:
        cell = self.cells[key]
        if len(cell) == 1:
            del self.cells[key]
            del self.keys[bisect.bisect_left(self.keys, key)]
        else:
            del cell[bisect.bisect_left(cell, entry)]


class Ranking:
    """The candidates of one request shape; ``pop_best`` removes and returns the winner's id."""

    def __init__(self, scorers: Sequence[Scorer], request: PlacementRequest, order: CandidateOrder) -> None:
        cut = next((n for n, s in enumerate(scorers) if isinstance(s, Random)), len(scorers))
        self.chain = tuple(scorers[:cut])
        self.names = tuple(s.name for s in self.chain)
        self.random_tail = cut < len(scorers)
        self.request = request
        self.group_name = request.demand.group or ""
        self.order = order
        self.spreads = [s for s in self.chain if isinstance(s, SpreadAttribute)]
        self.locals = [s for s in self.chain if isinstance(s, Binpack | SpreadInstances)]
        # Where each chain position reads its score: (True, n) the n-th bucket tally,
        # (False, n) the n-th entry of the local key.
        self.layout: list[tuple[bool, int]] = []
        for scorer in self.chain:
            is_bucket = isinstance(scorer, SpreadAttribute)
            seen = sum(1 for bucket, _ in self.layout if bucket == is_bucket)
            self.layout.append((is_bucket, seen))
        self.tallies: list[dict[Hashable, int]] = [{} for _ in self.spreads]
        self.counted: dict[int, tuple[tuple[Hashable, ...], int]] = {}  # id -> what it adds to tallies
        self.groups: dict[tuple[Hashable, ...], _Group] = {}
        self.where: dict[int, tuple[_Group, Key, Entry]] = {}  # the candidates
        self.ranks: dict[int, float] = {}  # kept while an instance is known, across add/remove

    # -- the spread tallies: every instance's tasks of the group, candidate or not ------------

    def count(self, instance: InstanceSnapshot) -> None:
        """Count (or count again) ``instance``'s tasks of the group in its spread buckets."""
        if not self.spreads:
            return
        self.uncount(instance.id)
        tasks = instance.task_groups.get(self.group_name)
        if tasks:
            buckets = tuple(s.bucket(instance) for s in self.spreads)
            for tally, bucket in zip(self.tallies, buckets, strict=True):
                tally[bucket] = tally.get(bucket, 0) + tasks
            self.counted[instance.id] = (buckets, tasks)

    def uncount(self, instance_id: int) -> None:
        counted = self.counted.pop(instance_id, None)
        if counted is not None:
            buckets, tasks = counted
            for tally, bucket in zip(self.tallies, buckets, strict=True):
                tally[bucket] -= tasks

    # -- the candidates -------------------------------------------------------------------

    def add(self, instance: InstanceSnapshot) -> None:
        """Make ``instance`` (in its current state; not a candidate now) a candidate."""
        buckets = tuple(s.bucket(instance) for s in self.spreads)
        group = self.groups.get(buckets)
        if group is None:
            group = self.groups[buckets] = _Group(buckets)
        key = tuple(s.score(instance, self.request) for s in self.locals)
        rank = self.ranks.get(instance.id)
        if rank is None:
            rank = self.ranks[instance.id] = 0.0 if self.random_tail else self.order.random()
        entry = (rank, instance.id)
        group.insert(key, entry)
        self.where[instance.id] = (group, key, entry)

    def add_all(self, instances: Sequence[InstanceSnapshot]) -> None:
        """``add`` for many instances at once into an empty ranking: column by column, each
        cell sorted once (faster than one by one)."""
        if self.where:
            for instance in instances:
                self.add(instance)
            return
        ids = [instance.id for instance in instances]
        if self.random_tail:
            ranks = [0.0] * len(ids)
        else:
            draw = self.order.random
            ranks = [draw() for _ in ids]
        self.ranks.update(zip(ids, ranks, strict=True))
        columns: list[list[Hashable]] = [s.buckets(instances) for s in self.spreads]
        columns += [list(s.scores(instances, self.request)) for s in self.locals]
        composites = zip(*columns, strict=True) if columns else [()] * len(ids)
        split = len(self.spreads)
        for composite, rank, instance_id in zip(composites, ranks, ids, strict=True):
            buckets, key = composite[:split], composite[split:]
            group = self.groups.get(buckets)
            if group is None:
                group = self.groups[buckets] = _Group(buckets)
            entry = (rank, instance_id)
            cell = group.cells.get(key)
            if cell is None:
                group.cells[key] = [entry]
                group.keys.append(key)
            else:
                cell.append(entry)
            self.where[instance_id] = (group, key, entry)
        for group in self.groups.values():
            group.keys.sort()
            for cell in group.cells.values():
                cell.sort()

    def remove(self, instance_id: int) -> None:
        """No longer a candidate (if it was one)."""
        place = self.where.pop(instance_id, None)
        if place is not None:
            group, key, entry = place
            group.delete(key, entry)

    def forget(self, instance_id: int) -> None:
        """The instance left the cluster: no candidate, no tally, no rank."""
        self.remove(instance_id)
        self.uncount(instance_id)
        self.ranks.pop(instance_id, None)

    def pop_best(self) -> tuple[int, tuple[tuple[str, float], ...]] | None:
        """Remove the best candidate; return its id with the score each strategy gave it."""
        best_score: Key | None = None
        tied: list[tuple[_Group, Key]] = []
        for group in self.groups.values():
            if not group.keys:
                continue
            key = group.keys[0]
            score = self._score(group, key)
            if best_score is None or score < best_score:
                best_score, tied = score, [(group, key)]
            elif score == best_score:
                tied.append((group, key))
        if best_score is None:
            return None
        if self.random_tail:
            group, key = self._draw(tied)
            cell = group.cells[key]
            entry = cell[self.order.randrange(len(cell))] if len(cell) > 1 else cell[0]
        else:
            group, key = min(tied, key=lambda item: item[0].cells[item[1]][0])
            entry = group.cells[key][0]
        self.remove(entry[1])
        return entry[1], tuple(zip(self.names, best_score, strict=True))

    def _score(self, group: _Group, key: Key) -> Key:
        return tuple(
            self.tallies[index].get(group.buckets[index], 0) if is_bucket else key[index]
            for is_bucket, index in self.layout
        )

    def _draw(self, tied: list[tuple[_Group, Key]]) -> tuple[_Group, Key]:
        """A tied cell, drawn in proportion to its size: uniform over the tied candidates."""
        if len(tied) == 1:
            return tied[0]
        tied.sort(key=lambda item: item[0].cells[item[1]][0])  # FixedOrder: lowest id
        sizes = [len(group.cells[key]) for group, key in tied]
        point = self.order.randrange(sum(sizes))
        for item, size in zip(tied, sizes, strict=True):
            if point < size:
                return item
            point -= size
        return tied[-1]
