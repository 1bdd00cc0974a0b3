"""A task engine wired to a real driver, with the control plane's side recorded.

Until a test runs against a real ``dockyard server``, the ECS client here only records the
state-change calls the reporter makes, and sent frames land in a list.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from dockyard.agent.drivers import Driver
from dockyard.agent.engine import TaskEngine
from dockyard.agent.logs import LogShipper
from dockyard.agent.reporter import Reporter
from dockyard.agent.threads import BlockingRunner
from tests.agent.builders import state_frame

INSTANCE_ARN = "arn:aws:ecs:us-east-1:000000000000:container-instance/default/0123"


class RecordingEcs:
    """Stands in for the control plane's Submit*StateChange actions.

    ``timeline`` (shared with the rig's socket) records calls and frames in the order the
    control plane would have received them."""

    def __init__(self, timeline: list[tuple[str, dict[str, Any]]] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.timeline = timeline if timeline is not None else []

    def submit_task_state_change(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("task", params))
        self.timeline.append(("task", params))
        return {"acknowledgment": "ACK"}

    def submit_container_state_change(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("container", params))
        self.timeline.append(("container", params))
        return {"acknowledgment": "ACK"}

    def task_reports(self, task_arn: str) -> list[dict[str, Any]]:
        return [p for kind, p in self.calls if kind == "task" and p["task"] == task_arn]

    def task_statuses(self, task_arn: str) -> list[str]:
        return [p["status"] for p in self.task_reports(task_arn)]

    def last_task_report(self, task_arn: str) -> dict[str, Any] | None:
        reports = self.task_reports(task_arn)
        return reports[-1] if reports else None

    def container_reports(self, task_arn: str, name: str) -> list[dict[str, Any]]:
        found = []
        for kind, params in self.calls:
            if params["task"] != task_arn:
                continue
            if kind == "container" and params["containerName"] == name:
                found.append(params)
            elif kind == "task":
                found += [c for c in params["containers"] if c["containerName"] == name]
        return found


class Rig:
    """An engine on ``driver`` inside a running event loop (use ``async with``)."""

    def __init__(self, driver: Driver, instance_id: str, cleanup_wait: float = 0.0) -> None:
        self.driver, self.instance_id, self.cleanup_wait = driver, instance_id, cleanup_wait
        self.timeline: list[tuple[str, dict[str, Any]]] = []
        self.ecs = RecordingEcs(self.timeline)
        self.frames: list[dict[str, Any]] = []
        self.version = 0

    async def __aenter__(self) -> Rig:
        loop = asyncio.get_running_loop()
        run_blocking = BlockingRunner(loop)
        self.reporter = Reporter(self.ecs, run_blocking)
        self.logs = LogShipper(self.deliver, lambda: True, interval=0.1)
        self.engine = TaskEngine(
            driver=self.driver,
            run_blocking=run_blocking,
            reporter=self.reporter,
            send=self.send,
            logs=self.logs,
            instance_id=self.instance_id,
            cleanup_wait=self.cleanup_wait,
        )
        self.engine.bind(INSTANCE_ARN)
        self.driver.watch(lambda arn: loop.call_soon_threadsafe(self.engine.poke, arn))
        self.background = [asyncio.create_task(self.reporter.run()), asyncio.create_task(self.logs.run())]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.engine.shutdown()
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)

    def send(self, frame: dict[str, Any]) -> bool:
        self.frames.append(frame)
        self.timeline.append(("frame", frame))
        return True

    async def deliver(self, frame: dict[str, Any]) -> bool:
        return self.send(frame)

    async def apply(self, *tasks: dict[str, Any]) -> None:
        self.version += 1
        await self.engine.apply_state(state_frame(*tasks, version=self.version, instance_arn=INSTANCE_ARN))

    async def until(self, probe: Callable[[], Any], timeout: float = 120.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {probe}; calls: {self.ecs.calls}")
            await asyncio.sleep(0.05)

    async def stopped(self, task_arn: str, timeout: float = 120.0) -> dict[str, Any]:
        """The task's STOPPED report, once it came."""
        report: dict[str, Any] = await self.until(
            lambda: next((p for p in self.ecs.task_reports(task_arn) if p["status"] == "STOPPED"), None),
            timeout,
        )
        return report

    def lines_before_stopped(self, task_arn: str) -> list[str]:
        """The task's output the socket carried before its STOPPED report went out."""
        lines = []
        for kind, item in self.timeline:
            if kind == "task" and item["task"] == task_arn and item["status"] == "STOPPED":
                return lines
            if kind == "frame" and item["type"] == "logs" and item["taskArn"] == task_arn:
                lines += [text for _, text in item["lines"]]
        raise AssertionError(f"task {task_arn} was never reported STOPPED")

    def log_lines(self, task_arn: str, container: str) -> list[str]:
        return [
            text
            for frame in self.frames
            if frame["type"] == "logs"
            and frame["taskArn"] == task_arn
            and frame["containerName"] == container
            for _, text in frame["lines"]
        ]
