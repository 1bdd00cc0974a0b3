"""The task engine and its task owners, on real drivers (process, and docker when present)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.agent.drivers import Driver
from dockyard.agent.drivers.process import ProcessDriver
from dockyard.agent.reconcile import ESSENTIAL_EXITED
from tests.agent.builders import container, task_frame
from tests.agent.conftest import remove_docker_leftovers
from tests.agent.rig import Rig

DRIVERS = ["process", pytest.param("docker", marks=pytest.mark.docker)]


def make_driver(kind: str, instance_id: str, state: Path) -> Driver:
    if kind == "docker":
        from dockyard.agent.drivers.docker import DockerDriver
        from dockyard.agent.host import docker_reachable

        if not docker_reachable():
            pytest.skip("no Docker Engine")
        return DockerDriver(instance_id)
    return ProcessDriver(instance_id, state)


@pytest.fixture(params=DRIVERS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def driver(kind: str, instance_id: str, tmp_path: Path) -> Iterator[Driver]:
    made = make_driver(kind, instance_id, tmp_path)
    yield made
    for observed in made.list_containers():
        made.remove(observed.runtime_id)
    made.close()
    if kind == "docker":
        remove_docker_leftovers(instance_id)


def running_ids(driver: Driver, task_arn: str) -> list[str]:
    return sorted(
        c.runtime_id
        for c in driver.list_containers()
        if c.task_arn == task_arn and c.status.name == "RUNNING"
    )


def test_an_essential_exit_stops_the_task_and_reports_it(driver: Driver, instance_id: str) -> None:
    task = task_frame(
        container("app", command=["sh", "-c", "echo starting; sleep 0.5; exit 3"]),
        container("side", essential=False, command=["sleep", "600"], stopTimeout=1),
    )

    async def scenario() -> dict[str, Any]:
        async with Rig(driver, instance_id) as rig:
            await rig.apply(task)
            report = await rig.stopped(task["taskArn"])
            await rig.until(lambda: "starting" in rig.log_lines(task["taskArn"], "app"))
            assert rig.ecs.task_statuses(task["taskArn"])[-2:] == ["RUNNING", "STOPPED"]
            app_reports = rig.ecs.container_reports(task["taskArn"], "app")
            assert any(r["status"] == "STOPPED" and r.get("exitCode") == 3 for r in app_reports)
            return report

    report = asyncio.run(scenario())
    assert report["reason"] == ESSENTIAL_EXITED
    assert report["cluster"].endswith(":cluster/default")
    by_name = {c["containerName"]: c for c in report["containers"]}
    assert by_name["app"]["exitCode"] == 3 and by_name["app"]["status"] == "STOPPED"
    assert by_name["side"]["status"] == "STOPPED" and by_name["side"]["exitCode"] in (137, 143)
    assert all(c.get("runtimeId") for c in report["containers"])
    assert report["executionStoppedAt"] >= report["pullStartedAt"]


def test_dependencies_order_the_start(driver: Driver, instance_id: str, tmp_path: Path) -> None:
    task = task_frame(
        container("init", essential=False, command=["sh", "-c", "sleep 0.3; echo init-done"]),
        container(
            "app",
            command=["sh", "-c", "echo app-started; sleep 600"],
            dependsOn=[{"containerName": "init", "condition": "SUCCESS"}],
        ),
    )

    async def scenario() -> None:
        async with Rig(driver, instance_id) as rig:
            await rig.apply(task)
            await rig.until(lambda: "RUNNING" in rig.ecs.task_statuses(task["taskArn"]))
            init = [r for r in rig.ecs.container_reports(task["taskArn"], "init") if r["status"] == "STOPPED"]
            assert init and init[0]["exitCode"] == 0
            await rig.until(lambda: "app-started" in rig.log_lines(task["taskArn"], "app"))

    asyncio.run(scenario())


def test_an_unmet_dependency_fails_the_task(driver: Driver, instance_id: str) -> None:
    task = task_frame(
        container("init", essential=False, command=["sh", "-c", "exit 1"]),
        container(
            "app", command=["sleep", "600"], dependsOn=[{"containerName": "init", "condition": "SUCCESS"}]
        ),
    )

    async def scenario() -> dict[str, Any]:
        async with Rig(driver, instance_id) as rig:
            await rig.apply(task)
            return await rig.stopped(task["taskArn"])

    report = asyncio.run(scenario())
    assert report["reason"].startswith("DependencyConditionNotMet")
    app = next(c for c in report["containers"] if c["containerName"] == "app")
    assert "exitCode" not in app and app["reason"].startswith("DependencyConditionNotMet")


def test_desired_stopped_stops_and_leaving_the_frame_removes(driver: Driver, instance_id: str) -> None:
    task = task_frame(container(command=["sleep", "600"], stopTimeout=2))

    async def scenario() -> None:
        async with Rig(driver, instance_id) as rig:
            await rig.apply(task)
            await rig.until(lambda: "RUNNING" in rig.ecs.task_statuses(task["taskArn"]))
            await rig.apply({**task, "desiredStatus": "STOPPED"})
            report = await rig.stopped(task["taskArn"])
            assert "reason" not in report  # the control plane knows why it stopped the task
            assert driver.list_containers()  # kept until the control plane lets go
            await rig.apply()
            await rig.until(lambda: not driver.list_containers() and task["taskArn"] not in rig.engine.owners)
            await rig.apply(task)  # a stale frame naming the finished task again
            assert task["taskArn"] not in rig.engine.owners  # decided as the frame was applied
            assert not driver.list_containers()

    asyncio.run(scenario())


def test_a_restarted_agent_adopts_without_duplicates(kind: str, instance_id: str, tmp_path: Path) -> None:
    task = task_frame(container(command=["sleep", "600"], stopTimeout=1))
    first = make_driver(kind, instance_id, tmp_path)

    async def before_restart() -> list[str]:
        async with Rig(first, instance_id) as rig:
            await rig.apply(task)
            await rig.until(lambda: "RUNNING" in rig.ecs.task_statuses(task["taskArn"]))
        return running_ids(first, task["taskArn"])  # still running after the engine let go

    second = make_driver(kind, instance_id, tmp_path)

    async def after_restart() -> None:
        async with Rig(second, instance_id) as rig:
            await rig.apply(task)
            # RUNNING comes after the owner's first look and step: a duplicate would exist by now.
            await rig.until(lambda: "RUNNING" in rig.ecs.task_statuses(task["taskArn"]))
            assert running_ids(second, task["taskArn"]) == ids
            assert len(second.list_containers()) == 1
            await rig.apply()  # the control plane gave the task up while we were away
            await rig.until(lambda: not second.list_containers())

    try:
        ids = asyncio.run(before_restart())
        assert len(ids) == 1
        asyncio.run(after_restart())
    finally:
        for made in (first, second):
            for observed in made.list_containers():
                made.remove(observed.runtime_id)
            made.close()
        if kind == "docker":
            remove_docker_leftovers(instance_id)


def test_a_finished_tasks_containers_stay_for_the_cleanup_wait(driver: Driver, instance_id: str) -> None:
    task = task_frame(container(command=["sh", "-c", "echo done"]))
    arn = task["taskArn"]

    async def scenario() -> None:
        async with Rig(driver, instance_id, cleanup_wait=3600) as rig:
            await rig.apply(task)
            await rig.stopped(arn)
            await rig.apply()  # the control plane lets go of the task
            await rig.until(lambda: arn not in rig.engine.owners and arn in rig.engine._cleaning)
            kept = [c for c in driver.list_containers() if c.task_arn == arn]
            assert [c.status.name for c in kept] == ["STOPPED"]  # still there to inspect
            await rig.apply()  # another frame neither brings it back nor removes it
            assert [c.runtime_id for c in driver.list_containers() if c.task_arn == arn] == [
                c.runtime_id for c in kept
            ]
            assert rig.ecs.task_statuses(arn).count("STOPPED") == 1

    asyncio.run(scenario())


def test_kept_containers_go_once_the_cleanup_wait_is_over(driver: Driver, instance_id: str) -> None:
    task = task_frame(container(command=["sh", "-c", "echo done"]))
    arn = task["taskArn"]

    async def scenario() -> None:
        async with Rig(driver, instance_id, cleanup_wait=0.5) as rig:
            await rig.apply(task)
            await rig.stopped(arn)
            await rig.apply()
            await rig.until(lambda: not any(c.task_arn == arn for c in driver.list_containers()))
            await rig.until(lambda: arn not in rig.engine._cleaning)

    asyncio.run(scenario())


def test_orphans_are_stopped_and_removed(kind: str, instance_id: str, tmp_path: Path) -> None:
    task = task_frame(container(command=["sleep", "600"], stopTimeout=1))
    driver = make_driver(kind, instance_id, tmp_path)

    async def scenario() -> None:
        async with Rig(driver, instance_id) as rig:
            await rig.apply(task)
            await rig.until(lambda: running_ids(driver, task["taskArn"]))
        async with Rig(driver, instance_id) as rig:  # a restart that lost the task
            await rig.apply(task_frame(container(command=["true"])))
            await rig.until(lambda: not any(c.task_arn == task["taskArn"] for c in driver.list_containers()))
            assert rig.ecs.task_reports(task["taskArn"]) == []

    try:
        asyncio.run(scenario())
    finally:
        for observed in driver.list_containers():
            driver.remove(observed.runtime_id)
        driver.close()
        if kind == "docker":
            remove_docker_leftovers(instance_id)


def test_health_goes_up_the_socket(driver: Driver, instance_id: str, tmp_path: Path) -> None:
    task = task_frame(
        container(
            command=["sleep", "600"],
            stopTimeout=1,
            healthCheck={"command": ["CMD-SHELL", "true"], "interval": 1, "timeout": 2, "retries": 1},
        )
    )

    async def scenario() -> None:
        async with Rig(driver, instance_id) as rig:
            await rig.apply(task)
            frame = await rig.until(
                lambda: next(
                    (
                        f
                        for f in rig.frames
                        if f["type"] == "health" and f["containers"][0]["healthStatus"] == "HEALTHY"
                    ),
                    None,
                )
            )
            assert frame["taskArn"] == task["taskArn"]
            assert rig.engine.health_frames()[0]["containers"] == [
                {"containerName": "app", "healthStatus": "HEALTHY"}
            ]

    asyncio.run(scenario())


def test_overrides_reach_the_container(driver: Driver, instance_id: str) -> None:
    task = task_frame(
        container(command=["sh", "-c", "echo default"], environment=[{"name": "WHO", "value": "definition"}]),
        overrides={
            "containerOverrides": [
                {
                    "name": "app",
                    "command": ["sh", "-c", "echo $WHO"],
                    "environment": [{"name": "WHO", "value": "override"}],
                }
            ]
        },
    )

    async def scenario() -> None:
        async with Rig(driver, instance_id) as rig:
            await rig.apply(task)
            await rig.stopped(task["taskArn"])
            await rig.until(lambda: rig.log_lines(task["taskArn"], "app") == ["override"])

    asyncio.run(scenario())


def test_output_is_kept_when_the_task_goes_at_once(driver: Driver, instance_id: str) -> None:
    task = task_frame(container(command=["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done"]))

    async def scenario() -> None:
        async with Rig(driver, instance_id) as rig:
            await rig.apply(task)
            await rig.stopped(task["taskArn"])
            await rig.apply()  # the control plane lets go the moment it hears STOPPED
            await rig.until(lambda: not driver.list_containers())
            await rig.until(lambda: len(rig.log_lines(task["taskArn"], "app")) == 5)
            assert rig.log_lines(task["taskArn"], "app") == [f"line {i}" for i in range(1, 6)]

    asyncio.run(scenario())


def test_every_line_of_many_short_tasks_goes_up_before_their_stopped_report(
    driver: Driver, instance_id: str
) -> None:
    script = "echo line-{n}-a; echo line-{n}-b; printf line-{n}-end"  # the last line has no newline
    tasks = [task_frame(container(command=["sh", "-c", script.format(n=n)])) for n in range(20)]

    async def scenario() -> None:
        async with Rig(driver, instance_id) as rig:
            await rig.apply(*tasks)
            for task in tasks:
                await rig.stopped(task["taskArn"], timeout=180)
            await rig.apply()  # the control plane lets go: every task is cleaned up
            await rig.until(lambda: not driver.list_containers(), timeout=120)
            for n, task in enumerate(tasks):
                assert rig.lines_before_stopped(task["taskArn"]) == [
                    f"line-{n}-a",
                    f"line-{n}-b",
                    f"line-{n}-end",
                ]

    asyncio.run(scenario())


def test_a_container_that_exits_before_its_sibling_starts_keeps_its_output(
    driver: Driver, instance_id: str
) -> None:
    task = task_frame(
        container("first", essential=False, command=["sh", "-c", "echo first-line"]),
        container(
            "second",
            command=["sh", "-c", "echo second-line"],
            dependsOn=[{"containerName": "first", "condition": "SUCCESS"}],
        ),
    )

    async def scenario() -> None:
        async with Rig(driver, instance_id) as rig:
            await rig.apply(task)
            await rig.stopped(task["taskArn"])
            assert sorted(rig.lines_before_stopped(task["taskArn"])) == ["first-line", "second-line"]

    asyncio.run(scenario())
