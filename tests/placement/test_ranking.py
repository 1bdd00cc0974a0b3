"""The ranking of candidates: the best found without a scan, ties drawn fairly."""

from __future__ import annotations

import random
from collections import Counter

from dockyard.placement.model import PlacementRequest
from dockyard.placement.ranking import FixedOrder, Ranking
from dockyard.placement.strategies import Binpack, Random, SpreadAttribute, SpreadInstances
from tests.placement.builders import ZONES, demand, instance

REQUEST = PlacementRequest(demand())
ZONE = SpreadAttribute("ecs.availability-zone")


def test_an_empty_ranking_has_no_best() -> None:
    assert Ranking((Random(),), REQUEST, FixedOrder()).pop_best() is None


def test_pop_best_takes_the_candidate_out() -> None:
    cluster = [instance(1), instance(2)]
    ranking = Ranking((Binpack("memory"),), REQUEST, FixedOrder())
    ranking.add_all(cluster)
    popped = [ranking.pop_best(), ranking.pop_best(), ranking.pop_best()]
    assert [None if p is None else p[0] for p in popped] == [1, 2, None]


def test_a_candidate_added_back_competes_with_its_new_key() -> None:
    cluster = [instance(1, memory=2048), instance(2, memory=1024)]
    ranking = Ranking((Binpack("memory"),), REQUEST, FixedOrder())
    ranking.add_all(cluster)
    best = ranking.pop_best()
    assert best is not None and best[0] == 2
    ranking.add(cluster[1].take(REQUEST.demand))
    assert ranking.pop_best() == (2, (("binpack(memory)", 0),))


def test_with_fixed_order_random_draws_go_to_the_lowest_id_across_tied_zones() -> None:
    cluster = [instance(5, zone=ZONES[0]), instance(3, zone=ZONES[1]), instance(4, zone=ZONES[1])]
    ranking = Ranking((ZONE, Random()), REQUEST, FixedOrder())
    ranking.add_all(cluster)
    best = ranking.pop_best()
    assert best is not None and best[0] == 3


def test_random_draws_among_tied_zones_are_uniform_over_instances() -> None:
    # zone a has one instance, zone b three: each instance is drawn about a quarter of the time
    cluster = [instance(1, zone=ZONES[0]), *(instance(n, zone=ZONES[1]) for n in (2, 3, 4))]
    order = random.Random(11)
    counts: Counter[int] = Counter()
    for _ in range(2000):
        ranking = Ranking((ZONE, Random()), REQUEST, order)
        ranking.add_all(cluster)
        best = ranking.pop_best()
        assert best is not None
        counts[best[0]] += 1
    assert all(400 < counts[n] < 600 for n in (1, 2, 3, 4)), counts


def test_spread_counts_follow_the_placed_tasks() -> None:
    cluster = [instance(1, zone=ZONES[0]), instance(2, zone=ZONES[1])]
    ranking = Ranking((ZONE, SpreadInstances()), REQUEST, FixedOrder())
    ranking.add_all(cluster)
    for member in cluster:
        ranking.count(member)
    first = ranking.pop_best()
    assert first is not None
    after = cluster[first[0] - 1].take(REQUEST.demand)
    ranking.count(after)
    ranking.add(after)
    second = ranking.pop_best()
    assert second is not None and second[0] != first[0]
