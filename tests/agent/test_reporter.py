"""The reporter: in order, retried while the control plane is away, dropped when refused."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from dockyard.agent.reporter import Reporter


class FlakyEcs:
    """Fails the first ``failures`` calls with ``error``, then records."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error = failures, error
        self.attempts = 0
        self.sent: list[dict[str, Any]] = []

    def submit_task_state_change(self, **params: Any) -> dict[str, str]:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        self.sent.append(params)
        return {"acknowledgment": "ACK"}

    submit_container_state_change = submit_task_state_change


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "SubmitTaskStateChange",
    )


def run(ecs: FlakyEcs, *reports: dict[str, Any]) -> bool:
    async def main() -> bool:
        loop = asyncio.get_running_loop()

        def blocking(function: Callable[..., Any], *args: Any) -> Any:
            return loop.run_in_executor(None, functools.partial(function, *args))

        reporter = Reporter(ecs, blocking)
        worker = asyncio.create_task(reporter.run())
        for report in reports:
            reporter.task_change(report)
        drained = await reporter.drain(10)
        worker.cancel()
        return drained

    return asyncio.run(main())


def test_reports_go_out_in_order() -> None:
    ecs = FlakyEcs(0, RuntimeError())
    assert run(ecs, {"task": "a", "status": "RUNNING"}, {"task": "a", "status": "STOPPED"})
    assert [r["status"] for r in ecs.sent] == ["RUNNING", "STOPPED"]


def test_an_unreachable_control_plane_is_retried() -> None:
    ecs = FlakyEcs(2, EndpointConnectionError(endpoint_url="http://x"))
    assert run(ecs, {"task": "a", "status": "RUNNING"}, {"task": "a", "status": "STOPPED"})
    assert [r["status"] for r in ecs.sent] == ["RUNNING", "STOPPED"] and ecs.attempts == 4


def test_a_server_error_is_retried() -> None:
    ecs = FlakyEcs(1, client_error("ServerException", 500))
    assert run(ecs, {"task": "a", "status": "RUNNING"})
    assert len(ecs.sent) == 1


def test_a_refused_report_is_dropped_and_the_next_goes_on() -> None:
    ecs = FlakyEcs(1, client_error("InvalidParameterException", 400))
    assert run(ecs, {"task": "gone", "status": "STOPPED"}, {"task": "b", "status": "RUNNING"})
    assert [r["task"] for r in ecs.sent] == ["b"] and ecs.attempts == 2
