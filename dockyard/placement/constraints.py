"""Placement constraints as filters: ``distinctInstance`` and ``memberOf``.

Constraints are binding (strategies are only preferences): an instance that fails one is not
a candidate, and its failure reads as ECS reports it, e.g. "MemberOf placement constraint
unsatisfied.". ``constraint_filters`` checks the request's constraints once (count, types,
expressions) and turns them into filters that run after the cheap resource filters.

- ``distinctInstance``: as ECS, no two tasks of the same task group (the service's
  ``service:<name>``, a standalone task's group or ``family:<name>``) on one instance. That
  covers the tasks already running (``InstanceSnapshot.task_groups``, which counts tasks whose
  desired status is RUNNING) and the tasks of this very request, since a placed task adds to
  its instance's group count. It is not allowed in a task definition (the API enum says so).
- ``memberOf``: the instance must match a cluster query language expression, parsed once.

At most 10 constraints per task, counting the task definition's and the request's together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dockyard.errors import InvalidParameterException
from dockyard.placement.filters import Filter
from dockyard.placement.model import InstanceSnapshot, PlacementRequest
from dockyard.placement.query_language import Expression, parse

MAX_CONSTRAINTS = 10
MEMBER_OF = "MemberOf placement constraint unsatisfied."
DISTINCT_INSTANCE = "DistinctInstance placement constraint unsatisfied."


class DistinctInstance:
    name = "distinctInstance"

    def applies(self, request: PlacementRequest) -> bool:
        return True

    def reject(self, instance: InstanceSnapshot, request: PlacementRequest) -> str | None:
        return DISTINCT_INSTANCE if instance.task_groups.get(request.demand.group or "") else None


class MemberOf:
    def __init__(self, expression: Expression) -> None:
        self.expression = expression
        self.name = f"memberOf({expression.text})"
        self._matches = expression.test

    def applies(self, request: PlacementRequest) -> bool:
        return True

    def reject(self, instance: InstanceSnapshot, request: PlacementRequest) -> str | None:
        return None if self._matches(instance) else MEMBER_OF


def check_constraints(constraints: Iterable[Mapping[str, str]], *, in_task_definition: bool = False) -> None:
    """Raise InvalidParameterException unless these constraints are valid ECS constraints.

    Pass the task definition's and the request's together: the limit counts both.
    """
    constraint_filters(tuple(constraints), in_task_definition=in_task_definition)


def constraint_filters(
    constraints: tuple[Mapping[str, str], ...], *, in_task_definition: bool = False
) -> tuple[Filter, ...]:
    """The filters for these constraints, distinctInstance first (it is the cheaper one)."""
    if len(constraints) > MAX_CONSTRAINTS:
        raise InvalidParameterException(
            f"Too many placement constraints: {len(constraints)} were given (the task "
            f"definition's and the request's together); at most {MAX_CONSTRAINTS} are allowed."
        )
    distinct: list[Filter] = []
    member_of: dict[str, Filter] = {}  # a repeated expression is checked once
    for constraint in constraints:
        kind = constraint.get("type")
        expression = constraint.get("expression")
        if kind == "distinctInstance":
            if in_task_definition:
                raise InvalidParameterException(
                    "The distinctInstance placement constraint is not supported in task definitions."
                )
            if expression:
                raise InvalidParameterException(
                    "An expression can't be given with a distinctInstance placement constraint."
                )
            distinct[:] = [DistinctInstance()]
        elif kind == "memberOf":
            if not expression:
                raise InvalidParameterException("A memberOf placement constraint needs an expression.")
            member_of.setdefault(expression, MemberOf(parse(expression)))
        else:
            raise InvalidParameterException(
                f"Invalid placement constraint type '{kind}': use memberOf or distinctInstance."
            )
    return (*distinct, *member_of.values())
