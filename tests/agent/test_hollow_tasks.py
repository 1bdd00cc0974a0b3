"""What a hollow instance reports for the tasks of its state frames."""

from __future__ import annotations

import random
from typing import Any

import pytest

from dockyard.agent.hollow_tasks import HollowTasks, TaskScript

CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/default"


def task(name: str, desired: str = "RUNNING", containers: tuple[str, ...] = ("app",)) -> dict[str, Any]:
    return {
        "taskArn": f"arn:aws:ecs:us-east-1:000000000000:task/default/{name}",
        "desiredStatus": desired,
        "family": "web",
        "revision": 1,
        "taskDefinition": {"family": "web", "containerDefinitions": [{"name": c} for c in containers]},
        "containers": [{"name": c} for c in containers],
    }


def frame(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {"type": "state", "version": 1, "clusterArn": CLUSTER, "tasks": list(tasks)}


def said(reports: list[dict[str, Any]]) -> list[tuple[str, str, tuple[Any, ...]]]:
    """(task, status, per-container (status, exit code)) of each report, in order."""
    return [
        (
            r["task"].rsplit("/", 1)[1],
            r["status"],
            tuple((c["status"], c.get("exitCode")) for c in r["containers"]),
        )
        for r in reports
    ]


CASES = [
    (
        "a new task is reported PENDING then RUNNING",
        [frame(task("a"))],
        [("a", "PENDING", (("PENDING", None),)), ("a", "RUNNING", (("RUNNING", None),))],
    ),
    (
        "every container of a task is reported",
        [frame(task("a", containers=("web", "side")))],
        [
            ("a", "PENDING", (("PENDING", None), ("PENDING", None))),
            ("a", "RUNNING", (("RUNNING", None), ("RUNNING", None))),
        ],
    ),
    (
        "the same frame again says nothing",
        [frame(task("a")), frame(task("a"))],
        [
            ("a", "PENDING", (("PENDING", None),)),
            ("a", "RUNNING", (("RUNNING", None),)),
        ],
    ),
    (
        "a running task told to stop is reported STOPPED with SIGTERM's exit code",
        [frame(task("a")), frame(task("a", "STOPPED"))],
        [
            ("a", "PENDING", (("PENDING", None),)),
            ("a", "RUNNING", (("RUNNING", None),)),
            ("a", "STOPPED", (("STOPPED", 143),)),
        ],
    ),
    (
        "a task stopped before it started is STOPPED without an exit code",
        [frame(task("a", "STOPPED"))],
        [("a", "STOPPED", (("STOPPED", None),))],
    ),
    (
        "a stopped task is not reported twice",
        [frame(task("a", "STOPPED")), frame(task("a", "STOPPED"))],
        [("a", "STOPPED", (("STOPPED", None),))],
    ),
    (
        "a task that left the frame and comes back is new again",
        [frame(task("a")), frame(), frame(task("a"))],
        [("a", "PENDING", (("PENDING", None),)), ("a", "RUNNING", (("RUNNING", None),))] * 2,
    ),
]


@pytest.mark.parametrize(("frames", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reports_for_frames(frames: list[dict[str, Any]], expected: list[Any]) -> None:
    tasks = HollowTasks()
    reports = [report for f in frames for report in tasks.apply(f, 1764000000.0)]
    assert said(reports) == expected
    assert all(r["cluster"] == CLUSTER for r in reports)


def test_a_running_report_carries_runtime_ids_and_pull_times() -> None:
    pending, running = HollowTasks().apply(frame(task("a")), 1764000000.0)
    assert "runtimeId" not in pending["containers"][0]
    assert running["containers"][0]["runtimeId"] == "hollow-a-app"
    assert running["pullStartedAt"] == running["pullStoppedAt"] == 1764000000.0


@pytest.mark.parametrize(
    ("script", "exit_code", "seconds"),
    [
        (TaskScript(task_seconds=5.0), 0, 5.0),
        (TaskScript(fail_rate=1.0, fail_seconds=2.0), 1, 2.0),
        (TaskScript(task_seconds=5.0, fail_rate=1.0, fail_seconds=2.0), 1, 2.0),
    ],
    ids=["every task exits 0 after task_seconds", "a failing task exits 1", "failure comes first"],
)
def test_a_scripted_end(script: TaskScript, exit_code: int, seconds: float) -> None:
    tasks = HollowTasks(script)
    tasks.apply(frame(task("a")), 1764000000.0)
    [(arn, after)] = tasks.take_endings()
    assert after == seconds and tasks.take_endings() == []
    report = tasks.end(arn, 1764000009.0)
    assert report is not None
    assert said([report]) == [("a", "STOPPED", (("STOPPED", exit_code),))]
    assert report["reason"] == "Essential container in task exited"
    assert report["executionStoppedAt"] == 1764000009.0
    assert tasks.end(arn, 1764000010.0) is None  # once only
    assert tasks.apply(frame(task("a", "STOPPED")), 1764000011.0) == []  # already stopped


def test_a_task_stopped_before_its_scripted_end_ends_once() -> None:
    tasks = HollowTasks(TaskScript(task_seconds=5.0))
    tasks.apply(frame(task("a")), 1764000000.0)
    [(arn, _)] = tasks.take_endings()
    assert said(tasks.apply(frame(task("a", "STOPPED")), 1764000001.0)) == [
        ("a", "STOPPED", (("STOPPED", 143),))
    ]
    assert tasks.end(arn, 1764000005.0) is None


def test_no_script_no_endings() -> None:
    tasks = HollowTasks()
    tasks.apply(frame(task("a")), 1764000000.0)
    assert tasks.take_endings() == []


def test_the_fail_rate_is_a_share_of_the_tasks() -> None:
    tasks = HollowTasks(TaskScript(fail_rate=0.25), random.Random(7))
    reports = tasks.apply(frame(*(task(f"t{n}") for n in range(400))), 1764000000.0)
    failing = sum(report["status"] == "STOPPED" for report in reports)  # at once: fail_seconds 0
    assert 60 <= failing <= 140  # 100 expected; seeded, so always the same number
    assert tasks.take_endings() == []


@pytest.mark.parametrize(
    ("script", "exit_code"),
    [(TaskScript(task_seconds=0.0), 0), (TaskScript(fail_rate=1.0), 1)],
    ids=["a task that exits 0 at once", "a task that fails at once"],
)
def test_a_task_that_ends_at_once_reports_its_whole_life_from_one_frame(
    script: TaskScript, exit_code: int
) -> None:
    tasks = HollowTasks(script)
    reports = tasks.apply(frame(task("a")), 1764000000.0)
    assert said(reports) == [
        ("a", "PENDING", (("PENDING", None),)),
        ("a", "RUNNING", (("RUNNING", None),)),
        ("a", "STOPPED", (("STOPPED", exit_code),)),
    ]
    assert reports[-1]["reason"] == "Essential container in task exited"
    assert tasks.take_endings() == [] and tasks.end(reports[-1]["task"], 1764000001.0) is None


def test_a_malformed_task_is_skipped() -> None:
    broken = {"desiredStatus": "RUNNING"}  # no taskArn
    assert said(HollowTasks().apply(frame(broken, task("a")), 0.0))[0][0] == "a"
