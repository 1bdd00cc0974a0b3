"""The pipeline as a whole: its order, its failures, its inputs and outputs."""

from __future__ import annotations

import random

from dockyard.placement import FixedOrder, PlacementRequest, place
from dockyard.placement.engine import build_pipeline
from dockyard.placement.model import Demand
from tests.placement.builders import DISTINCT, binpack, instance, member_of, request, spread


def test_the_pipeline_runs_cheap_filters_then_constraints_in_that_order() -> None:
    pipeline = build_pipeline(
        request(
            constraints=(member_of("attribute:a exists"), DISTINCT),
            strategies=(spread("instanceId"), binpack("memory")),
            ports=frozenset({"tcp:80"}),
        )
    )
    assert [stage.name for stage in pipeline.filters] == [
        "status",
        "agentConnected",
        "launchType",
        "memory",
        "cpu",
        "ports",
        "distinctInstance",
        "memberOf(attribute:a exists)",
    ]
    assert [scorer.name for scorer in pipeline.scorers] == [
        "spread(instanceId)",
        "binpack(memory)",
    ]


def test_a_failure_names_every_instance_with_the_first_reason_that_applies() -> None:
    cluster = [
        instance(3, memory=100),
        instance(1, status="DRAINING"),
        instance(2, agent_connected=False, memory=100),
    ]
    result = place(cluster, request(), FixedOrder())
    assert result.chosen == ()
    assert [(f.arn, f.reason, f.detail) for f in result.failures] == [
        (instance(1).arn, "INACTIVE", "status"),
        (instance(2).arn, "AGENT", "agentConnected"),
        (instance(3).arn, "RESOURCE:MEMORY", "memory"),
    ]


def test_tasks_are_placed_until_the_cluster_is_full_then_failures_explain_why() -> None:
    result = place([instance(1, memory=1024), instance(2, memory=512)], request(5), FixedOrder())
    assert [c.id for c in result.chosen] == [1, 1, 2]
    assert [f.reason for f in result.failures] == ["RESOURCE:MEMORY"] * 2


def test_chosen_holds_each_instance_as_it_was_at_that_tasks_turn() -> None:
    given = instance(1, gpus=("g0", "g1", "g2", "g3"))
    result = place([given], request(2, gpus=2), FixedOrder())
    first, second = result.chosen
    assert first is given
    assert (second.id, second.arn, second.version) == (given.id, given.arn, given.version)
    assert second.free_memory == given.free_memory - 512
    assert (first.free_gpus[:2], second.free_gpus[:2]) == (("g0", "g1"), ("g2", "g3"))
    assert given.free_memory == 4096  # snapshots are never changed


def test_an_empty_cluster_places_nothing_and_reports_nothing() -> None:
    assert place([], request(2), FixedOrder()).chosen == ()
    assert place([], request(2), FixedOrder()).failures == ()


def test_a_request_for_no_task_places_none() -> None:
    assert place([instance()], request(0), FixedOrder()).chosen == ()


def test_the_input_order_does_not_matter() -> None:
    cluster = [instance(n, memory=512 * n) for n in range(1, 20)]
    shuffled = random.Random(5).sample(cluster, len(cluster))
    first = place(cluster, request(8), random.Random(9))
    assert place(shuffled, request(8), random.Random(9)) == first


def test_the_leads_first_call_still_works() -> None:
    # positional request and demand, as engine v1 was called
    demand = Demand(256, 512, frozenset())
    result = place([instance(1)], PlacementRequest(demand, 2), random.Random(0))
    assert [c.id for c in result.chosen] == [1, 1]
    assert result.failures == ()


def test_ports_make_one_instance_take_one_task() -> None:
    result = place([instance(1), instance(2)], request(3, ports=frozenset({"tcp:80"})), FixedOrder())
    assert sorted(c.id for c in result.chosen) == [1, 2]
    assert [f.reason for f in result.failures] == ["RESOURCE:PORTS"] * 2


def test_gpus_are_used_up() -> None:
    result = place([instance(1, gpus=("g0", "g1", "g2"))], request(2, gpus=2), FixedOrder())
    assert len(result.chosen) == 1
    assert [f.reason for f in result.failures] == ["RESOURCE:GPU"]
