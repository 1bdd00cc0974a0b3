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


class FakeChannel:
    """The agent channel as the reporter sees it: frames out, acks back through ``handlers``.

    ``answer`` decides what the control plane does with each frame: ack it (with refusals),
    drop the connection, or say nothing."""

    def __init__(self, answer: Callable[[FakeChannel, dict[str, Any]], None]) -> None:
        self.answer = answer
        self.connected, self.connections = True, 1
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {}
        self.frames: list[dict[str, Any]] = []

    async def deliver(self, frame: dict[str, Any]) -> bool:
        if not self.connected:
            return False
        self.frames.append(frame)
        asyncio.get_running_loop().call_soon(self.answer, self, frame)
        return True

    def ack(self, frame: dict[str, Any], refused: list[dict[str, Any]] | None = None) -> None:
        self.handlers["taskReportsAck"](
            {"type": "taskReportsAck", "id": frame["id"], "refused": refused or []}
        )


def run_with_channel(ecs: FlakyEcs, channel: FakeChannel, *reports: tuple[str, dict[str, Any]]) -> Reporter:
    async def main() -> Reporter:
        loop = asyncio.get_running_loop()

        def blocking(function: Callable[..., Any], *args: Any) -> Any:
            return loop.run_in_executor(None, functools.partial(function, *args))

        reporter = Reporter(ecs, blocking)
        reporter.attach(channel)  # type: ignore[arg-type]
        worker = asyncio.create_task(reporter.run())
        for kind, report in reports:
            getattr(reporter, kind)(report)
        assert await reporter.drain(10)
        worker.cancel()
        return reporter

    return asyncio.run(main())


def test_task_changes_go_up_the_socket_together_and_leave_once_acked() -> None:
    ecs, channel = FlakyEcs(0, RuntimeError()), FakeChannel(lambda c, f: c.ack(f))
    reporter = run_with_channel(
        ecs,
        channel,
        *(("task_change", {"task": "a", "status": s}) for s in ("PENDING", "RUNNING", "STOPPED")),
    )
    assert [[r["status"] for r in f["reports"]] for f in channel.frames] == [
        ["PENDING", "RUNNING", "STOPPED"]
    ]
    assert ecs.sent == [] and (reporter.sent, reporter.frames) == (3, 1)


def test_a_refused_report_in_a_frame_is_dropped() -> None:
    ecs = FlakyEcs(0, RuntimeError())
    channel = FakeChannel(lambda c, f: c.ack(f, [{"index": 0, "code": "InvalidParameterException"}]))
    reporter = run_with_channel(
        ecs, channel, ("task_change", {"task": "gone", "status": "STOPPED"}), ("task_change", {"task": "b"})
    )
    assert len(channel.frames) == 1 and reporter.sent == 1 and ecs.sent == []


def test_a_frame_lost_with_its_connection_goes_again_on_the_next() -> None:
    def first_lost(channel: FakeChannel, frame: dict[str, Any]) -> None:
        if channel.connections == 1:
            channel.connections = 2  # the socket broke and a new one opened before the ack
        else:
            channel.ack(frame)

    ecs, channel = FlakyEcs(0, RuntimeError()), FakeChannel(first_lost)
    reporter = run_with_channel(ecs, channel, ("task_change", {"task": "a", "status": "RUNNING"}))
    assert [f["reports"] for f in channel.frames] == [[{"task": "a", "status": "RUNNING"}]] * 2
    assert reporter.frames == 1 and ecs.sent == []


def test_reports_go_over_http_while_the_socket_is_down_and_in_order_with_container_changes() -> None:
    ecs, channel = FlakyEcs(0, RuntimeError()), FakeChannel(lambda c, f: c.ack(f))
    channel.connected = False
    run_with_channel(ecs, channel, ("task_change", {"task": "a", "status": "RUNNING"}))
    assert [r["status"] for r in ecs.sent] == ["RUNNING"] and channel.frames == []
    channel.connected = True
    run_with_channel(
        ecs,
        channel,
        ("task_change", {"task": "a", "status": "RUNNING"}),
        ("container_change", {"task": "a", "containerName": "web", "status": "STOPPED"}),
        ("task_change", {"task": "a", "status": "STOPPED"}),
    )
    assert [[r["status"] for r in f["reports"]] for f in channel.frames] == [["RUNNING"], ["STOPPED"]]
    assert [r.get("containerName") for r in ecs.sent] == [None, "web"]


def test_a_control_plane_that_never_acks_gets_the_reports_over_http(monkeypatch: Any) -> None:
    from dockyard.agent import reporter as module

    monkeypatch.setattr(module, "ACK_TIMEOUT", 0.2)
    monkeypatch.setattr(module, "ACK_POLL", 0.05)
    ecs, channel = FlakyEcs(0, RuntimeError()), FakeChannel(lambda c, f: None)
    reporter = run_with_channel(
        ecs, channel, ("task_change", {"task": "a", "status": "RUNNING"}), ("task_change", {"task": "b"})
    )
    assert len(channel.frames) == 1 and [r["task"] for r in ecs.sent] == ["a", "b"]
    assert (reporter.sent, reporter.frames) == (2, 0)


def test_a_slow_ack_after_an_acked_frame_is_waited_for(monkeypatch: Any) -> None:
    from dockyard.agent import reporter as module

    monkeypatch.setattr(module, "ACK_TIMEOUT", 0.2)
    monkeypatch.setattr(module, "ACK_POLL", 0.05)
    monkeypatch.setattr(module, "FRAME_GAP", 0.0)

    def slow_after_the_first(channel: FakeChannel, frame: dict[str, Any]) -> None:
        delay = 0.0 if frame["id"] == 1 else 0.6  # a busy control plane, past the timeout
        asyncio.get_running_loop().call_later(delay, channel.ack, frame)

    ecs, channel = FlakyEcs(0, RuntimeError()), FakeChannel(slow_after_the_first)
    sent: list[str] = []

    async def main() -> Reporter:
        reporter = Reporter(ecs, lambda function, *args: asyncio.sleep(0, function(*args)))
        reporter.attach(channel)  # type: ignore[arg-type]
        worker = asyncio.create_task(reporter.run())
        reporter.task_change({"task": "a", "status": "RUNNING"})
        await asyncio.wait_for(_until(lambda: reporter.frames == 1), 10)
        reporter.task_change({"task": "a", "status": "STOPPED"})
        assert await reporter.drain(10)
        worker.cancel()
        sent.extend(str(f["id"]) for f in channel.frames)
        return reporter

    reporter = asyncio.run(main())
    assert ecs.sent == [] and reporter.frames == 2 and sent == ["1", "2"]


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)
