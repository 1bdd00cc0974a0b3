"""Properties of every placement, on clusters and requests that hypothesis makes up.

No placement overcommits CPU, memory, GPUs or a port; distinctInstance and memberOf always
hold; every placed task fits its instance as it was at that moment; a task is only left out
when no instance could take it; and the winner is always the one a plain, scan-everything
reference would pick.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.placement.engine import Placer, place
from dockyard.placement.model import InstanceSnapshot, PlacementRequest
from dockyard.placement.query_language import parse
from dockyard.placement.ranking import FixedOrder
from dockyard.placement.strategies import Binpack, Random, SpreadAttribute, scorers
from tests.placement.builders import DISTINCT, RANDOM, ZONES, binpack, demand, member_of, spread

GROUP = "family:web"
PORTS = ("tcp:80", "tcp:443", "udp:53")
EXPRESSIONS = (
    "attribute:ecs.instance-type =~ t2.*",
    "attribute:ecs.availability-zone != us-east-1c",
    "not(task:group == family:db)",
    "runningTasksCount < 4",
    "task:group !exists or attribute:ecs.instance-type == m5.large",
)
STRATEGIES = (
    binpack("memory"),
    binpack("cpu"),
    spread("instanceId"),
    spread("attribute:ecs.availability-zone"),
    spread("attribute:rack"),
    RANDOM,
)


@st.composite
def instances(draw: st.DrawFn, id: int) -> InstanceSnapshot:
    attributes: dict[str, str | None] = {
        "ecs.instance-type": draw(st.sampled_from(["t2.small", "t2.micro", "m5.large"])),
    }
    zone = draw(st.sampled_from([*ZONES, None]))
    if zone is not None:
        attributes["ecs.availability-zone"] = zone
    if draw(st.booleans()):
        attributes["rack"] = draw(st.sampled_from(["r1", "r2"]))
    return InstanceSnapshot(
        id=id,
        arn=f"arn:ci/{id}",
        ec2_instance_id=f"i-{id}",
        status=draw(st.sampled_from(["ACTIVE"] * 5 + ["DRAINING"])),
        agent_connected=draw(st.sampled_from([True] * 5 + [False])),
        external=False,
        free_cpu=draw(st.integers(0, 8192)),
        free_memory=draw(st.integers(0, 8192)),
        used_ports=frozenset(draw(st.sets(st.sampled_from(PORTS), max_size=1))),
        free_gpus=tuple(f"g{n}" for n in range(draw(st.integers(0, 3)))),
        attributes=attributes,
        version=1,
        running_tasks_count=draw(st.integers(0, 5)),
        task_groups=draw(
            st.dictionaries(st.sampled_from([GROUP, "family:db"]), st.integers(0, 2), max_size=2)
        ),
    )


@st.composite
def clusters(draw: st.DrawFn) -> list[InstanceSnapshot]:
    ids = draw(st.lists(st.integers(1, 500), min_size=1, max_size=12, unique=True))
    return [draw(instances(id)) for id in ids]


@st.composite
def requests(draw: st.DrawFn) -> PlacementRequest:
    constraints: list[Mapping[str, str]] = []
    if draw(st.booleans()):
        constraints.append(DISTINCT)
    constraints += [member_of(e) for e in draw(st.lists(st.sampled_from(EXPRESSIONS), max_size=1))]
    ports = draw(st.sampled_from([(), (), (), (PORTS[0],)]))
    wanted = demand(
        draw(st.integers(0, 1024)),
        draw(st.integers(0, 1024)),
        ports=frozenset(ports),
        gpus=draw(st.sampled_from([0, 0, 0, 1])),
    )
    strategies = draw(st.lists(st.sampled_from(STRATEGIES), max_size=3))
    return PlacementRequest(wanted, draw(st.integers(1, 10)), tuple(constraints), tuple(strategies))


def fits(instance: InstanceSnapshot, request: PlacementRequest) -> bool:
    """A reference feasibility check, written out plainly."""
    need = request.demand
    distinct = any(c["type"] == "distinctInstance" for c in request.constraints)
    return (
        instance.status == "ACTIVE"
        and instance.agent_connected
        and not instance.external
        and need.cpu <= instance.free_cpu
        and need.memory <= instance.free_memory
        and need.gpus <= len(instance.free_gpus)
        and not need.ports & instance.used_ports
        and not (distinct and instance.task_groups.get(GROUP, 0) > 0)
        and all(
            parse(c["expression"]).matches(instance) for c in request.constraints if c["type"] == "memberOf"
        )
    )


def reference_keys(
    state: dict[int, InstanceSnapshot], request: PlacementRequest
) -> dict[int, tuple[float, ...]]:
    """Every feasible instance's score per strategy, each computed by a full scan."""
    chain = []
    for scorer in scorers(request.strategies):
        if isinstance(scorer, Random):
            break
        chain.append(scorer)
    keys = {}
    for instance in state.values():
        if not fits(instance, request):
            continue
        key: list[float] = []
        for scorer in chain:
            if isinstance(scorer, Binpack):
                key.append(scorer.score(instance, request))
            elif isinstance(scorer, SpreadAttribute):
                mine = scorer.bucket(instance)
                key.append(
                    sum(
                        other.task_groups.get(GROUP, 0)
                        for other in state.values()
                        if scorer.bucket(other) == mine
                    )
                )
            else:
                key.append(instance.task_groups.get(GROUP, 0))
        keys[instance.id] = tuple(key)
    return keys


@settings(max_examples=200, deadline=None)
@given(clusters(), requests(), st.integers(0, 2**32))
def test_every_placement_is_feasible_optimal_and_complete(
    cluster: list[InstanceSnapshot], request: PlacementRequest, seed: int
) -> None:
    result = place(cluster, request, random.Random(seed))
    state = {instance.id: instance for instance in cluster}
    for chosen in result.chosen:
        keys = reference_keys(state, request)
        assert chosen.id in keys, "the task went to an instance that could not take it"
        assert keys[chosen.id] == min(keys.values()), "a better instance was passed over"
        state[chosen.id] = state[chosen.id].take(request.demand)
    if len(result.chosen) < request.count:
        assert not any(fits(instance, request) for instance in state.values())
        assert len(result.failures) == len(cluster)
    else:
        assert result.failures == ()


@settings(max_examples=150, deadline=None)
@given(clusters(), requests(), st.integers(0, 2**32))
def test_no_placement_overcommits_an_instance(
    cluster: list[InstanceSnapshot], request: PlacementRequest, seed: int
) -> None:
    result = place(cluster, request, random.Random(seed))
    tasks = Counter(chosen.id for chosen in result.chosen)
    need = request.demand
    for instance in cluster:
        placed = tasks[instance.id]
        assert placed * need.cpu <= max(instance.free_cpu, 0) or placed == 0
        assert placed * need.memory <= instance.free_memory or placed == 0
        assert placed * need.gpus <= len(instance.free_gpus) or placed == 0
        if need.ports and placed:
            assert placed == 1 and not need.ports & instance.used_ports


@settings(max_examples=150, deadline=None)
@given(clusters(), requests(), st.integers(0, 2**32))
def test_distinct_instance_is_never_violated(
    cluster: list[InstanceSnapshot], request: PlacementRequest, seed: int
) -> None:
    request = PlacementRequest(request.demand, request.count, (DISTINCT,), request.strategies)
    result = place(cluster, request, random.Random(seed))
    ids = [chosen.id for chosen in result.chosen]
    assert len(ids) == len(set(ids))
    assert all(chosen.task_groups.get(GROUP, 0) == 0 for chosen in result.chosen)


@settings(max_examples=100, deadline=None)
@given(clusters(), requests())
def test_with_a_fixed_order_ties_go_to_the_lowest_id(
    cluster: list[InstanceSnapshot], request: PlacementRequest
) -> None:
    result = place(cluster, request, FixedOrder())
    state = {instance.id: instance for instance in cluster}
    for chosen in result.chosen:
        keys = reference_keys(state, request)
        best = min(keys.values())
        assert chosen.id == min(i for i, key in keys.items() if key == best)
        state[chosen.id] = state[chosen.id].take(request.demand)


@settings(max_examples=50, deadline=None)
@given(clusters(), requests(), st.integers(0, 2**32))
def test_the_same_seed_gives_the_same_placement(
    cluster: list[InstanceSnapshot], request: PlacementRequest, seed: int
) -> None:
    assert place(cluster, request, random.Random(seed)) == place(
        list(reversed(cluster)), request, random.Random(seed)
    )


@st.composite
def changes(draw: st.DrawFn, known: list[int]) -> list[tuple[str, Any]]:
    """Steps a cluster goes through: instances changed or new, deregistered, requests placed
    and committed (their tasks taken), or placed and not committed."""
    steps: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["set", "set", "discard", "commit", "dry"]))
        if kind == "set":
            steps.append(("set", draw(instances(draw(st.sampled_from([*known, 501, 502]))))))
        elif kind == "discard":
            steps.append(("discard", draw(st.sampled_from([*known, 503]))))
        else:
            steps.append((kind, draw(st.integers(1, 10))))
    return steps


@settings(max_examples=150, deadline=None)
@given(clusters(), requests(), st.data())
def test_a_kept_placer_answers_as_a_fresh_one(
    cluster: list[InstanceSnapshot], request: PlacementRequest, data: st.DataObject
) -> None:
    # With FixedOrder every answer is fully determined by the cluster, so a placer kept
    # through changes must agree with one built from scratch on the cluster as it is now.
    placer = Placer(request, cluster, FixedOrder())
    state = {instance.id: instance for instance in cluster}
    for kind, value in data.draw(changes(sorted(state))):
        if kind == "set":
            placer.set(value)
            state[value.id] = value
        elif kind == "discard":
            placer.discard(value)
            state.pop(value, None)
        else:
            shaped = PlacementRequest(request.demand, value, request.constraints, request.strategies)
            kept = placer.place(value)
            assert kept == place(list(state.values()), shaped, FixedOrder())
            if kind == "commit":
                for chosen in kept.chosen:
                    state[chosen.id] = state[chosen.id].take(request.demand)
                    placer.set(state[chosen.id])
    assert placer.place(request.count) == place(list(state.values()), request, FixedOrder())
