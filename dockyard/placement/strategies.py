"""Placement strategies as scorers: each gives every candidate a number, and lower wins.

- ``binpack`` (field ``cpu`` or ``memory``): the CPU units or MiB the instance would have left,
  so the fullest instance that still fits wins and fewer instances are used.
- ``spread`` on ``instanceId`` (or ``host``): the tasks of the request's group already on the
  instance. ``spread`` on ``attribute:<name>``: the tasks of the group on all instances that
  share this instance's value of the attribute (e.g. its availability zone), counted over the
  whole cluster snapshot, not only the candidates; instances without the attribute share one
  value of their own. As ECS: a service's tasks spread against that service's tasks (group
  ``service:<name>``), standalone tasks against their task group.
- ``random``: no score; the candidate is drawn at random among those the strategies before
  it tie on, so strategies after a ``random`` never matter.

Strategies chain as ECS applies them: the first decides, each later one only breaks the ties
of those before it (a lexicographic order). Ties that remain go to the earliest candidate in
the request's candidate order, which comes from the injected random source.

Up to 5 strategies. RunTask without strategies places at random (``RUN_TASK_DEFAULT``); the
service scheduler passes ``SERVICE_DEFAULT`` (spread over zones, then over instances), as ECS
balances service tasks.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from dockyard.errors import InvalidParameterException
from dockyard.placement.model import InstanceSnapshot, PlacementRequest

MAX_STRATEGIES = 5
MISSING = "\0missing"  # the spread bucket of instances without the attribute
RUN_TASK_DEFAULT: tuple[Mapping[str, str], ...] = ({"type": "random"},)
SERVICE_DEFAULT: tuple[Mapping[str, str], ...] = (
    {"type": "spread", "field": "attribute:ecs.availability-zone"},
    {"type": "spread", "field": "instanceId"},
)


@dataclass(frozen=True, slots=True)
class Binpack:
    """Least remaining ``field`` (cpu or memory) after the task first."""

    field: str

    @property
    def name(self) -> str:
        return f"binpack({self.field})"

    def score(self, instance: InstanceSnapshot, request: PlacementRequest) -> int:
        return self.scores((instance,), request)[0]

    def scores(self, instances: Sequence[InstanceSnapshot], request: PlacementRequest) -> list[int]:
        if self.field == "cpu":
            cpu = request.demand.cpu
            return [instance.free_cpu - cpu for instance in instances]
        memory = request.demand.memory
        return [instance.free_memory - memory for instance in instances]


@dataclass(frozen=True, slots=True)
class SpreadInstances:
    """Fewest tasks of the request's group on the instance first."""

    name = "spread(instanceId)"

    def score(self, instance: InstanceSnapshot, request: PlacementRequest) -> int:
        return instance.task_groups.get(request.demand.group or "", 0)

    def scores(self, instances: Sequence[InstanceSnapshot], request: PlacementRequest) -> list[int]:
        group = request.demand.group or ""
        return [instance.task_groups.get(group, 0) for instance in instances]


@dataclass(frozen=True, slots=True)
class SpreadAttribute:
    """Fewest tasks of the group among instances with this instance's attribute value first.

    The score depends on other instances, so this scorer names the instance's ``bucket`` and
    gives the initial ``tally`` per bucket; the ranking keeps the tally as tasks are placed.
    """

    attribute: str

    @property
    def name(self) -> str:
        return f"spread(attribute:{self.attribute})"

    def bucket(self, instance: InstanceSnapshot) -> Hashable:
        # A missing attribute is a value of its own, which no string can equal.
        return instance.attributes.get(self.attribute, MISSING)

    def buckets(self, instances: Sequence[InstanceSnapshot]) -> list[Hashable]:
        attribute = self.attribute
        return [instance.attributes.get(attribute, MISSING) for instance in instances]

    def tally(self, instances: Iterable[InstanceSnapshot], request: PlacementRequest) -> dict[Hashable, int]:
        """The group's tasks per value of the attribute, over all ``instances``."""
        group = request.demand.group or ""
        counts: dict[Hashable, int] = {}
        for instance in instances:
            running = instance.task_groups.get(group)
            if running:
                key = self.bucket(instance)
                counts[key] = counts.get(key, 0) + running
        return counts


@dataclass(frozen=True, slots=True)
class Random:
    name = "random"


Scorer = Binpack | SpreadInstances | SpreadAttribute | Random


def check_strategies(strategies: Iterable[Mapping[str, str]]) -> None:
    """Raise InvalidParameterException unless these are valid ECS placement strategies."""
    scorers(tuple(strategies))


def scorers(strategies: tuple[Mapping[str, str], ...]) -> tuple[Scorer, ...]:
    """The scorers for these strategies (RunTask's default when none), in the user's order."""
    if len(strategies) > MAX_STRATEGIES:
        raise InvalidParameterException(
            f"Too many placement strategies: {len(strategies)} were given; at most "
            f"{MAX_STRATEGIES} are allowed."
        )
    return tuple(_scorer(strategy) for strategy in strategies or RUN_TASK_DEFAULT)


def _scorer(strategy: Mapping[str, str]) -> Scorer:
    kind, field = strategy.get("type"), strategy.get("field")
    if kind == "random":
        if field:
            raise InvalidParameterException(
                f"The random placement strategy takes no field, but '{field}' was given."
            )
        return Random()
    if kind == "binpack":
        if (field or "").lower() not in ("cpu", "memory"):
            raise InvalidParameterException(
                f"Invalid field '{field}' for the binpack placement strategy: use cpu or memory."
            )
        return Binpack((field or "").lower())
    if kind == "spread":
        if (field or "").lower() in ("instanceid", "host"):
            return SpreadInstances()
        attribute = (field or "").removeprefix("attribute:")
        if field and field.startswith("attribute:") and 0 < len(attribute) <= 128:
            return SpreadAttribute(attribute)
        raise InvalidParameterException(
            f"Invalid field '{field}' for the spread placement strategy: use instanceId, host "
            "or attribute:<name>."
        )
    raise InvalidParameterException(
        f"Invalid placement strategy type '{kind}': use random, spread or binpack."
    )
