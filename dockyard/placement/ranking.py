"""The candidates of one request, arranged so the best one is found without a full scan.

Placing a task changes one instance: its free resources, its group count. Only ``spread`` on
an attribute reaches further (every instance in the winner's zone now scores one more), and
it does so for a whole bucket at once. So candidates are kept in groups with the same spread
buckets (e.g. one group per zone); inside a group, in cells with the same local key (the
binpack and spread-instance scores in chain order), and the cells' keys in a heap. The best
candidate is then the best cell over the groups, comparing each group's top key with its
bucket counts woven in the user's order: O(G·S) for G groups and S strategies, plus O(log N)
to move the winner to its new cell, instead of O(N·S) per task.

Ties: when the chain ends with ``random``, the winner is drawn uniformly among every candidate
of the tied cells (a cell is then a list in id order: a draw is an index, and taking the
winner out or putting it back moves a few pointers); otherwise the earliest in the candidate
order wins (a cell is then a heap), where each candidate's rank is drawn once per request
from the order source. ``random.Random`` in production; ``FixedOrder`` in tests, with which
every tie and every draw goes to the lowest instance id.
"""

from __future__ import annotations

import bisect
import heapq
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any, Protocol

from dockyard.placement.model import InstanceSnapshot, PlacementRequest
from dockyard.placement.strategies import (
    Binpack,
    Random,
    Scorer,
    SpreadAttribute,
    SpreadInstances,
)

Key = tuple[float, ...]


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
    """Candidates with the same spread buckets, in cells by local key."""

    __slots__ = ("buckets", "cells", "keys")

    def __init__(self, buckets: tuple[Hashable, ...]) -> None:
        self.buckets = buckets
        self.cells: dict[Key, list[tuple[float, int]]] = {}  # key -> (rank, id) entries
        self.keys: list[Key] = []  # heap; may hold keys of emptied cells, dropped lazily

    def add(self, key: Key, entry: tuple[float, int], heap_cell: bool) -> None:
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = []
            heapq.heappush(self.keys, key)
        if heap_cell:
            heapq.heappush(cell, entry)
        else:
            bisect.insort(cell, entry)

    def best(self) -> Key | None:
        keys, cells = self.keys, self.cells
        while keys and keys[0] not in cells:
            heapq.heappop(keys)
        return keys[0] if keys else None


class Ranking:
    """Feasible candidates of one request; ``pop_best`` removes and returns the winner."""

    def __init__(
        self,
        scorers: Sequence[Scorer],
        request: PlacementRequest,
        cluster: Sequence[InstanceSnapshot],
        order: CandidateOrder,
    ) -> None:
        cut = next((n for n, s in enumerate(scorers) if isinstance(s, Random)), len(scorers))
        self.chain = tuple(scorers[:cut])
        self.random_tail = cut < len(scorers)
        self.request = request
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
        self.tallies = [s.tally(cluster, request) for s in self.spreads]
        self.groups: dict[tuple[Hashable, ...], _Group] = {}
        self.instances: dict[int, InstanceSnapshot] = {}
        self.ranks: dict[int, float] = {}  # of the candidates taken out, to keep on re-adding

    def add_all(self, instances: Sequence[InstanceSnapshot]) -> None:
        """Make all these instances (in id order) candidates: ``add``, column by column."""
        ids = [instance.id for instance in instances]
        self.instances.update(zip(ids, instances, strict=True))
        if self.random_tail:
            entries = [(0.0, key) for key in ids]
        else:
            draw = self.order.random
            entries = [(draw(), key) for key in ids]
        columns: list[list[Hashable]] = [s.buckets(instances) for s in self.spreads]
        columns += [list(s.scores(instances, self.request)) for s in self.locals]
        cells: defaultdict[tuple[Any, ...], list[tuple[float, int]]] = defaultdict(list)
        if columns:
            for composite, entry in zip(zip(*columns, strict=True), entries, strict=True):
                cells[composite].append(entry)
        elif entries:
            cells[()] = entries
        split = len(self.spreads)
        for composite, cell in cells.items():
            buckets, key = composite[:split], composite[split:]
            group = self.groups.get(buckets)
            if group is None:
                group = self.groups[buckets] = _Group(buckets)
            if not self.random_tail:
                heapq.heapify(cell)
            group.cells[key] = cell
            group.keys.append(key)
        for group in self.groups.values():
            heapq.heapify(group.keys)

    def add(self, instance: InstanceSnapshot) -> None:
        """Make ``instance`` (in its current state) a candidate."""
        buckets = tuple(s.bucket(instance) for s in self.spreads)
        group = self.groups.get(buckets)
        if group is None:
            group = self.groups[buckets] = _Group(buckets)
        key = tuple(s.score(instance, self.request) for s in self.locals)
        rank = self.ranks.get(instance.id)
        if rank is None:
            rank = 0.0 if self.random_tail else self.order.random()
        self.instances[instance.id] = instance
        group.add(key, (rank, instance.id), not self.random_tail)

    def placed(self, instance: InstanceSnapshot) -> None:
        """Count one more task of the group in ``instance``'s spread buckets."""
        for spread, tally in zip(self.spreads, self.tallies, strict=True):
            bucket = spread.bucket(instance)
            tally[bucket] = tally.get(bucket, 0) + 1

    def pop_best(self) -> tuple[InstanceSnapshot, tuple[tuple[str, float], ...]] | None:
        """Remove the best candidate; return it with the score each strategy gave it."""
        best_score: Key | None = None
        tied: list[tuple[_Group, Key]] = []
        for group in list(self.groups.values()):
            key = group.best()
            if key is None:
                del self.groups[group.buckets]
                continue
            score = self._score(group, key)
            if best_score is None or score < best_score:
                best_score, tied = score, [(group, key)]
            elif score == best_score:
                tied.append((group, key))
        if best_score is None:
            return None
        group, key = (
            self._draw(tied) if self.random_tail else min(tied, key=lambda item: item[0].cells[item[1]][0])
        )
        cell = group.cells[key]
        if self.random_tail:
            rank, instance_id = cell.pop(self.order.randrange(len(cell)) if len(cell) > 1 else 0)
        else:
            rank, instance_id = heapq.heappop(cell)
        self.ranks[instance_id] = rank
        if not cell:
            del group.cells[key]
        names = [s.name for s in self.chain]
        return self.instances.pop(instance_id), tuple(zip(names, best_score, strict=True))

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
