"""Every line a short task wrote reaches the control plane, under both drivers.

Many tasks that print and exit at once are the hardest case for output shipping: the process
is gone before its log follower starts, the task is reported STOPPED and cleaned up moments
later. The agent must drain every follower and hand the lines to the socket before it reports
the task STOPPED, so nothing is lost however loaded the machine is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.builders import container
from tests.harness import DockyardAgent, DockyardServer, Tenant, connected_instances, wait_for

pytestmark = pytest.mark.agents  # starts agent processes: not in the quick tier

TASKS = 20


class Fleet(Tenant):
    def wait_output(self, arn: str, expected: list[str], ordered: bool = True) -> None:
        """``dockyard logs`` shows exactly ``expected`` (soon: the server stores log frames
        as they arrive, beside the STOPPED report that raced them there)."""

        def matches() -> bool:
            lines = self.logs(arn).splitlines()
            return (lines if ordered else sorted(lines)) == (expected if ordered else sorted(expected))

        try:
            wait_for(matches, 120)
        except AssertionError:
            raise AssertionError(
                f"task {arn}: {self.logs(arn)!r} is not {expected!r}\n{self.agent.log()[-3000:]}"
            ) from None

    def stopped(self, arns: list[str]) -> list[dict[str, Any]]:
        """The tasks, once every one of them is STOPPED (DescribeTasks takes 100 at a time)."""

        def all_stopped() -> list[dict[str, Any]] | None:
            tasks = self.ecs.describe_tasks(tasks=arns)["tasks"]
            return tasks if all(t["lastStatus"] == "STOPPED" for t in tasks) else None

        return list(wait_for(all_stopped, 180, interval=0.5, message=self.agent.log()[-4000:]))


@pytest.fixture(scope="module", params=[pytest.param("docker", marks=pytest.mark.docker), "process"])
def fleet(
    request: pytest.FixtureRequest, server: DockyardServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    if request.param == "docker":
        request.getfixturevalue("docker_engine")
    account = server.new_account()
    agent = DockyardAgent(server, account, Path(tmp_path_factory.mktemp("agent")), driver=request.param)
    fleet = Fleet(server, account, agent.start())
    fleet.ecs.create_cluster()
    connected_instances(fleet.ecs, message=agent.log())
    yield fleet
    if agent.process is not None:
        assert agent.stop() == 0, agent.log()[-3000:]


def test_every_line_of_many_short_tasks_reaches_the_control_plane(fleet: Fleet) -> None:
    script = "echo line-$N-a; echo line-$N-b; printf line-$N-end"  # the last line has no newline
    fleet.ecs.register_task_definition(
        family="burst", containerDefinitions=[container("main", memory=16, command=["sh", "-c", script])]
    )
    arns = []
    for n in range(TASKS):
        result = fleet.ecs.run_task(
            taskDefinition="burst",
            overrides={
                "containerOverrides": [{"name": "main", "environment": [{"name": "N", "value": str(n)}]}]
            },
        )
        assert result["failures"] == [], result["failures"]
        arns.append(result["tasks"][0]["taskArn"])
    for task in fleet.stopped(arns):
        assert task["containers"][0].get("exitCode") == 0, task
    for n, arn in enumerate(arns):
        fleet.wait_output(arn, [f"main | line-{n}-a", f"main | line-{n}-b", f"main | line-{n}-end"])


def test_two_short_containers_of_one_task_both_keep_their_output(fleet: Fleet) -> None:
    fleet.ecs.register_task_definition(
        family="pair-output",
        containerDefinitions=[
            container("first", memory=16, essential=False, command=["sh", "-c", "echo first-line"]),
            container(
                "second",
                memory=16,
                command=["sh", "-c", "echo second-line"],
                dependsOn=[{"containerName": "first", "condition": "COMPLETE"}],
            ),
        ],
    )
    arns = [fleet.ecs.run_task(taskDefinition="pair-output")["tasks"][0]["taskArn"] for _ in range(5)]
    fleet.stopped(arns)
    for arn in arns:
        fleet.wait_output(arn, ["first | first-line", "second | second-line"], ordered=False)
