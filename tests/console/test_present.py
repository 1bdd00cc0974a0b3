"""What the pages show, computed from ECS results: bars, resources, diffs, revisions."""

from __future__ import annotations

import pytest

from dockyard.console import present
from dockyard.console.pages import own_revisions


@pytest.mark.parametrize(
    "running, pending, desired, widths",
    [
        pytest.param(0, 0, 0, (0.0, 0.0, 0.0), id="nothing wanted, nothing there"),
        pytest.param(0, 0, 4, (0.0, 0.0, 100.0), id="nothing started yet"),
        pytest.param(1, 2, 4, (25.0, 50.0, 100.0), id="on the way"),
        pytest.param(4, 0, 4, (100.0, 0.0, 100.0), id="steady"),
        pytest.param(4, 0, 2, (100.0, 0.0, 50.0), id="scaling in: the bar is scaled to what runs"),
        pytest.param(2, 2, 2, (50.0, 50.0, 50.0), id="a rollout above desired"),
    ],
)
def test_deployment_bar(running: int, pending: int, desired: int, widths: tuple[float, float, float]) -> None:
    bar = present.deployment_bar(running, pending, desired)
    assert (bar.running_width, bar.pending_width, bar.desired_mark) == widths


INSTANCE = {
    "registeredResources": [
        {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 4000},
        {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22", "2375"]},
        {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
    ],
    "remainingResources": [
        {"name": "CPU", "type": "INTEGER", "integerValue": 1536},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 1000},
        {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22", "2375", "8080", "443"]},
        {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": ["53"]},
    ],
}


def test_resource_use_is_registered_less_remaining() -> None:
    uses = {use.name: (use.used, use.used_width) for use in present.resource_use(INSTANCE)}
    assert uses == {"CPU": (512, 25.0), "MEMORY": (3000, 75.0)}


def test_ports_in_use_are_those_taken_beyond_the_reserved_ones() -> None:
    assert present.port_use(INSTANCE) == {
        "reserved tcp": ["22", "2375"],
        "in use tcp": ["443", "8080"],
        "reserved udp": [],
        "in use udp": ["53"],
    }


def test_the_diff_of_two_revisions_shows_what_changed_and_nothing_else() -> None:
    old = {"family": "web", "revision": 1, "containerDefinitions": [{"name": "a", "memory": 64}]}
    new = {"family": "web", "revision": 2, "containerDefinitions": [{"name": "a", "memory": 128}]}
    lines = present.json_diff(present.definition_body(old), present.definition_body(new))
    changed = [
        (line.kind, line.text[0] + line.text[1:].strip())
        for line in lines
        if line.kind in ("added", "removed")
    ]
    assert changed == [("removed", '-"memory": 64,'), ("added", '+"memory": 128,')]
    assert present.json_diff(present.definition_body(old), present.definition_body(old)) == []


def test_own_revisions_leave_out_families_that_only_share_the_prefix() -> None:
    arns = [
        "arn:aws:ecs:us-east-1:1:task-definition/web:3",
        "arn:aws:ecs:us-east-1:1:task-definition/web-admin:7",
        "arn:aws:ecs:us-east-1:1:task-definition/web:1",
    ]
    assert own_revisions(arns, "web") == [3, 1]


@pytest.mark.parametrize(
    "epoch, shown",
    [(None, ""), ("", ""), (0, "1970-01-01 00:00:00 UTC"), (1700000000.9, "2023-11-14 22:13:20 UTC")],
)
def test_when(epoch: float | None, shown: str) -> None:
    assert present.when(epoch) == shown
