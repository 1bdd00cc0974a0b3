"""The level-triggered split of a state frame against owners and the host."""

from __future__ import annotations

import pytest

from dockyard.agent.sync import SyncPlan, plan_sync

CASES = [
    ("a desired task nobody owns is adopted", {"desired": ["t1"]}, SyncPlan(adopt=("t1",))),
    (
        "a desired task with containers but no owner is adopted, not duplicated",
        {"desired": ["t1"], "on_host": ["t1"]},
        SyncPlan(adopt=("t1",)),
    ),
    (
        "an owned desired task is updated",
        {"desired": ["t1"], "owned": ["t1"], "on_host": ["t1"]},
        SyncPlan(update=("t1",)),
    ),
    (
        "an owned task that left the frame is retired",
        {"owned": ["t1"], "on_host": ["t1"]},
        SyncPlan(retire=("t1",)),
    ),
    ("containers of a task nobody wants or owns are orphans", {"on_host": ["t9"]}, SyncPlan(orphans=("t9",))),
    (
        "a finished task named again by a stale frame is ignored",
        {"desired": ["t1"], "finished": ["t1"]},
        SyncPlan(ignored=("t1",)),
    ),
    (
        "leftovers of a finished task are still cleaned up",
        {"desired": ["t1"], "finished": ["t1"], "on_host": ["t1"]},
        SyncPlan(orphans=("t1",), ignored=("t1",)),
    ),
    (
        "an empty frame retires everything owned and orphans the rest",
        {"owned": ["t1"], "on_host": ["t1", "t2"]},
        SyncPlan(retire=("t1",), orphans=("t2",)),
    ),
]


@pytest.mark.parametrize(("given", "plan"), [row[1:] for row in CASES], ids=[r[0] for r in CASES])
def test_plan_sync(given: dict[str, list[str]], plan: SyncPlan) -> None:
    assert (
        plan_sync(
            given.get("desired", []),
            given.get("owned", []),
            given.get("on_host", []),
            given.get("finished", []),
        )
        == plan
    )
