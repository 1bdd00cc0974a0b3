"""binpack, spread and random, alone and chained in the user's order, and their validation."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping

import pytest

from dockyard.errors import InvalidParameterException
from dockyard.placement.engine import place
from dockyard.placement.model import InstanceSnapshot
from dockyard.placement.ranking import FixedOrder
from dockyard.placement.strategies import (
    RUN_TASK_DEFAULT,
    SERVICE_DEFAULT,
    Binpack,
    Random,
    SpreadAttribute,
    SpreadInstances,
    check_strategies,
    scorers,
)
from tests.placement.builders import RANDOM, ZONES, binpack, instance, request, spread


def placed(
    cluster: list[InstanceSnapshot],
    count: int,
    *strategies: Mapping[str, str],
    order: random.Random | FixedOrder | None = None,
) -> list[int]:
    result = place(cluster, request(count, strategies=strategies), order or FixedOrder())
    assert len(result.chosen) == count, result.failures
    return [chosen.id for chosen in result.chosen]


def test_binpack_memory_fills_the_instance_with_least_memory_left_first() -> None:
    cluster = [instance(1, memory=4096), instance(2, memory=1024), instance(3, memory=2048)]
    # 512 MiB each: instance 2 takes two, then 3 (2048) is the fullest that fits
    assert placed(cluster, 4, binpack("memory")) == [2, 2, 3, 3]


def test_binpack_cpu_looks_at_cpu_only() -> None:
    cluster = [instance(1, cpu=512, memory=8192), instance(2, cpu=4096, memory=1024)]
    assert placed(cluster, 2, binpack("cpu")) == [1, 1]
    assert placed(cluster, 1, binpack("memory")) == [2]


def test_spread_instance_id_balances_the_group_over_instances() -> None:
    cluster = [instance(1, groups={"family:web": 2}), instance(2), instance(3)]
    ids = placed(cluster, 4, spread("instanceId"))
    assert Counter(ids) == {2: 2, 3: 2}


def test_spread_host_is_spread_instance_id() -> None:
    assert scorers((spread("host"),)) == scorers((spread("instanceId"),)) == (SpreadInstances(),)


def test_spread_counts_only_the_requests_group() -> None:
    cluster = [instance(1, groups={"family:db": 5}), instance(2, groups={"family:web": 1})]
    assert placed(cluster, 1, spread("instanceId")) == [1]


def test_spread_zone_balances_counting_the_groups_tasks_already_running() -> None:
    # zone a already runs 2 tasks of the group on a full instance; b and c run none
    cluster = [
        instance(1, zone=ZONES[0], memory=0, groups={"family:web": 2}),
        instance(2, zone=ZONES[0]),
        instance(3, zone=ZONES[1]),
        instance(4, zone=ZONES[2]),
    ]
    ids = placed(cluster, 4, spread("attribute:ecs.availability-zone"))
    zones = Counter(cluster[i - 1].attributes["ecs.availability-zone"] for i in ids)
    assert zones == {ZONES[1]: 2, ZONES[2]: 2}


def test_spread_over_an_attribute_some_instances_lack_treats_them_as_one_value() -> None:
    cluster = [instance(1, zone=None), instance(2, zone=None), instance(3, zone=ZONES[0])]
    ids = placed(cluster, 2, spread("attribute:ecs.availability-zone"))
    assert sorted(ids) == [1, 3]


def test_spread_zone_then_binpack_memory_packs_within_the_emptiest_zone() -> None:
    cluster = [
        instance(1, zone=ZONES[0], memory=1024),
        instance(2, zone=ZONES[0], memory=4096),
        instance(3, zone=ZONES[1], memory=2048),
        instance(4, zone=ZONES[1], memory=8192),
        instance(5, zone=ZONES[2], memory=600, groups={"family:web": 1}),
    ]
    ids = placed(cluster, 4, spread("attribute:ecs.availability-zone"), binpack("memory"))
    # zones a and b (no task yet) first, the fullest instance of each; then every zone has
    # one task and binpack picks among all: 1 (0 MiB left), then zone a has two, so 5 (88)
    assert ids == [1, 3, 1, 5]


def test_binpack_then_spread_lets_binpack_decide() -> None:
    cluster = [instance(1, zone=ZONES[0], memory=1024), instance(2, zone=ZONES[1], memory=2048)]
    ids = placed(cluster, 2, binpack("memory"), spread("attribute:ecs.availability-zone"))
    assert ids == [1, 1]


def test_spread_zone_then_spread_instance_balances_both() -> None:
    cluster = [instance(n, zone=ZONES[n % 3]) for n in range(9)]
    ids = placed(cluster, 9, *SERVICE_DEFAULT)
    assert sorted(ids) == list(range(9))


def test_ties_go_to_the_candidate_order() -> None:
    cluster = [instance(n) for n in range(1, 6)]
    assert placed(cluster, 1, binpack("memory")) == [1]  # fixed order: lowest id
    seen = {placed(cluster, 1, binpack("memory"), order=random.Random(seed))[0] for seed in range(40)}
    assert seen == {1, 2, 3, 4, 5}


def test_a_seed_gives_the_same_placement_every_time() -> None:
    cluster = [instance(n, zone=ZONES[n % 3]) for n in range(30)]
    first = placed(cluster, 10, *SERVICE_DEFAULT, order=random.Random(42))
    assert placed(cluster, 10, *SERVICE_DEFAULT, order=random.Random(42)) == first


def test_random_draws_anew_for_every_task() -> None:
    cluster = [instance(n, cpu=10**6, memory=10**6) for n in range(1, 5)]
    ids = placed(cluster, 400, RANDOM, order=random.Random(7))
    assert set(Counter(ids)) == {1, 2, 3, 4}
    assert min(Counter(ids).values()) > 60  # about 100 each


def test_strategies_after_random_never_matter() -> None:
    cluster = [instance(1, cpu=10**6, memory=10**6), instance(2, cpu=10**6, memory=10**7)]
    ids = placed(cluster, 200, RANDOM, binpack("memory"), order=random.Random(3))
    assert Counter(ids)[2] > 50


def test_random_after_a_strategy_draws_among_its_ties() -> None:
    cluster = [instance(1, memory=1024), instance(2, memory=1024), instance(3, memory=8192)]
    ids = {placed(cluster, 1, binpack("memory"), RANDOM, order=random.Random(s))[0] for s in range(30)}
    assert ids == {1, 2}


def test_without_strategies_run_task_places_at_random() -> None:
    assert scorers(()) == (Random(),)
    assert RUN_TASK_DEFAULT == ({"type": "random"},)
    cluster = [instance(n, cpu=10**6, memory=10**6) for n in range(1, 4)]
    assert len(set(placed(cluster, 60, order=random.Random(1)))) == 3


def test_every_placement_says_how_each_strategy_scored_it() -> None:
    cluster = [
        instance(1, zone=ZONES[0], memory=2048, groups={"family:web": 1}),
        instance(2, zone=ZONES[1], memory=4096),
    ]
    strategies = (spread("attribute:ecs.availability-zone"), binpack("memory"))
    result = place(cluster, request(2, strategies=strategies), FixedOrder())
    assert result.scores == (
        (("spread(attribute:ecs.availability-zone)", 0), ("binpack(memory)", 3584)),
        (("spread(attribute:ecs.availability-zone)", 1), ("binpack(memory)", 1536)),
    )


VALID = {
    "binpack memory": (binpack("memory"), Binpack("memory")),
    "binpack cpu in capitals": (binpack("CPU"), Binpack("cpu")),
    "spread instanceId": (spread("instanceId"), SpreadInstances()),
    "spread on a custom attribute": (spread("attribute:rack"), SpreadAttribute("rack")),
    "random": (RANDOM, Random()),
}


@pytest.mark.parametrize(("strategy", "scorer"), VALID.values(), ids=VALID.keys())
def test_valid_strategies(strategy: Mapping[str, str], scorer: object) -> None:
    assert scorers((strategy,)) == (scorer,)


INVALID = {
    "binpack without field": ({"type": "binpack"}, "use cpu or memory"),
    "binpack on ports": (binpack("ports"), "use cpu or memory"),
    "spread without field": ({"type": "spread"}, "use instanceId, host or attribute:<name>"),
    "spread on memory": (spread("memory"), "use instanceId, host or attribute:<name>"),
    "spread on an empty attribute": (spread("attribute:"), "attribute:<name>"),
    "random with a field": ({"type": "random", "field": "memory"}, "takes no field"),
    "an unknown type": ({"type": "roundRobin"}, "Invalid placement strategy type"),
}


@pytest.mark.parametrize(("strategy", "words"), INVALID.values(), ids=INVALID.keys())
def test_invalid_strategies_are_rejected(strategy: Mapping[str, str], words: str) -> None:
    with pytest.raises(InvalidParameterException, match=words):
        check_strategies([strategy])
    with pytest.raises(InvalidParameterException, match=words):
        place([instance()], request(strategies=(strategy,)), FixedOrder())


def test_at_most_five_strategies() -> None:
    check_strategies([binpack("memory")] * 5)
    with pytest.raises(InvalidParameterException, match="at most 5"):
        check_strategies([binpack("memory")] * 6)
