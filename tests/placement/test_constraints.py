"""distinctInstance and memberOf: binding, validated, and reported as ECS reports them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from dockyard.errors import InvalidParameterException
from dockyard.placement.constraints import (
    DISTINCT_INSTANCE,
    MEMBER_OF,
    check_constraints,
)
from dockyard.placement.engine import place
from dockyard.placement.model import InstanceSnapshot
from dockyard.placement.ranking import FixedOrder
from tests.placement.builders import DISTINCT, ZONES, instance, member_of, request


def placed_ids(instances: list[InstanceSnapshot], count: int = 1, **fields: Any) -> list[int]:
    result = place(instances, request(count, **fields), FixedOrder())
    return [chosen.id for chosen in result.chosen]


def test_distinct_instance_puts_each_task_of_a_request_on_its_own_instance() -> None:
    cluster = [instance(n) for n in range(1, 4)]
    assert sorted(placed_ids(cluster, 3, constraints=(DISTINCT,))) == [1, 2, 3]


def test_without_distinct_instance_tasks_may_share_an_instance() -> None:
    assert placed_ids([instance(1)], 3) == [1, 1, 1]


def test_distinct_instance_avoids_instances_running_the_same_group() -> None:
    cluster = [instance(1, groups={"family:web": 1}), instance(2, groups={"family:db": 1})]
    assert placed_ids(cluster, 1, constraints=(DISTINCT,)) == [2]


def test_distinct_instance_fails_the_tasks_that_dont_fit_with_its_reason() -> None:
    result = place([instance(1), instance(2)], request(3, constraints=(DISTINCT,)), FixedOrder())
    assert len(result.chosen) == 2
    assert [f.reason for f in result.failures] == [DISTINCT_INSTANCE] * 2
    assert DISTINCT_INSTANCE == "DistinctInstance placement constraint unsatisfied."


def test_distinct_instance_counts_a_request_without_group_too() -> None:
    cluster = [instance(1), instance(2)]
    assert sorted(placed_ids(cluster, 2, constraints=(DISTINCT,), group=None)) == [1, 2]


def test_member_of_keeps_only_matching_instances() -> None:
    cluster = [instance(n, zone=ZONES[n % 3]) for n in range(6)]
    ids = placed_ids(cluster, 4, constraints=(member_of("attribute:ecs.availability-zone == us-east-1b"),))
    assert set(ids) <= {1, 4}


def test_member_of_fails_with_the_ecs_reason_and_names_the_expression() -> None:
    expression = "attribute:ecs.instance-type =~ g2.*"
    result = place([instance(1)], request(constraints=(member_of(expression),)), FixedOrder())
    assert result.chosen == ()
    (failure,) = result.failures
    assert failure.reason == MEMBER_OF == "MemberOf placement constraint unsatisfied."
    assert failure.detail == f"memberOf({expression})"
    assert failure.arn == instance(1).arn


def test_task_group_affinity_places_next_to_the_group() -> None:
    cluster = [instance(1), instance(2, groups={"databases": 2}), instance(3)]
    assert placed_ids(cluster, 2, constraints=(member_of("task:group == databases"),)) == [2, 2]


def test_task_group_anti_affinity_sees_the_tasks_of_the_request() -> None:
    # not(task:group == family:web) with the request's own group: one task per instance
    cluster = [instance(1), instance(2)]
    constraint = member_of("not(task:group == family:web)")
    result = place(cluster, request(3, constraints=(constraint,)), FixedOrder())
    assert sorted(c.id for c in result.chosen) == [1, 2]
    assert {f.reason for f in result.failures} == {MEMBER_OF}


def test_running_tasks_count_sees_the_tasks_of_the_request() -> None:
    constraint = member_of("runningTasksCount < 2")
    result = place([instance(1, running_tasks_count=1)], request(3, constraints=(constraint,)), FixedOrder())
    assert [c.id for c in result.chosen] == [1]


def test_resources_are_checked_before_constraints() -> None:
    result = place(
        [instance(1, memory=100)],
        request(constraints=(member_of("attribute:x exists"), DISTINCT)),
        FixedOrder(),
    )
    assert [f.reason for f in result.failures] == ["RESOURCE:MEMORY"]


INVALID = {
    "eleven constraints": ((member_of("attribute:a exists"),) * 11, "at most 10"),
    "memberOf without expression": (({"type": "memberOf"},), "needs an expression"),
    "distinctInstance with an expression": (
        ({"type": "distinctInstance", "expression": "attribute:a exists"},),
        "can't be given",
    ),
    "an unknown type": (({"type": "sameZone"},), "Invalid placement constraint type"),
    "a bad expression": ((member_of("attribute:a =="),), "at column 15"),
}


@pytest.mark.parametrize(("constraints", "words"), INVALID.values(), ids=INVALID.keys())
def test_invalid_constraints_are_rejected(constraints: tuple[Mapping[str, str], ...], words: str) -> None:
    with pytest.raises(InvalidParameterException, match=words):
        check_constraints(constraints)
    with pytest.raises(InvalidParameterException, match=words):
        place([instance()], request(constraints=constraints), FixedOrder())


def test_ten_constraints_are_allowed() -> None:
    check_constraints((*[member_of(f"attribute:a{n} !exists") for n in range(9)], DISTINCT))


def test_distinct_instance_is_not_allowed_in_a_task_definition() -> None:
    with pytest.raises(InvalidParameterException, match="not supported in task definitions"):
        check_constraints((DISTINCT,), in_task_definition=True)
    check_constraints((member_of("attribute:a exists"),), in_task_definition=True)


def test_invalid_constraints_are_rejected_even_in_an_empty_cluster() -> None:
    with pytest.raises(InvalidParameterException):
        place([], request(constraints=(member_of("nonsense"),)), FixedOrder())
