"""Sends the agent's reports (SubmitTaskStateChange, SubmitContainerStateChange) in order.

Task owners queue a report and move on; one worker sends them in the order they were made.
While the agent channel is up, task changes go up its socket, many to a frame (``taskReports``,
docs/agent-protocol.md §3a): a frame's reports stay at the head of the queue until the control
plane acks the frame by id, and go again (on the next connection, or over HTTP) if the
connection they went out on broke first; a duplicate is harmless, statuses only move forward.
Otherwise (no channel, the socket down, a control plane that never acks a frame, a container
change) a report is an HTTP call through boto3, retried with back-off while the control plane
is unreachable or busy. A report the control plane refuses (a task it no longer knows) is
dropped: the control plane only moves statuses forward, so the owners' later reports carry
everything again.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from itertools import islice, takewhile
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

if TYPE_CHECKING:
    from dockyard.agent.channel import Channel

log = logging.getLogger(__name__)

MAX_QUEUED = 10000
RETRY_START, RETRY_MAX = 0.5, 10.0
RETRIED_CODES = {
    "ServerException",
    "ThrottlingException",
    "ServiceUnavailableException",
    "InternalFailure",
    "RequestLimitExceeded",
    "Throttling",
}
TASK_CHANGE = "submit_task_state_change"
FRAME_TYPE, ACK_TYPE = "taskReports", "taskReportsAck"
FRAME_REPORTS = 200  # task changes in one frame at most (well under the channel's 1 MiB)
# Between two report frames at least: what comes meanwhile shares the next frame, and the
# channel's frame rate (20 a second) keeps room for acks, heartbeats, logs and health.
FRAME_GAP = 0.2
# No ack this long on a live connection that never acked one: the control plane does not take
# report frames (an older one), so this connection's reports go over HTTP. (Once one frame was
# acked, a late ack is a busy control plane: the frame waits.)
ACK_TIMEOUT = 60.0
ACK_POLL = 0.5  # how often a wait for an ack looks whether its connection is still the one


class Reporter:
    """A FIFO of ECS state-change calls and the worker that sends them."""

    def __init__(self, client: Any, run_blocking: Callable[..., Awaitable[Any]]) -> None:
        self.client, self.run_blocking = client, run_blocking
        self._queue: deque[tuple[str, dict[str, Any]]] = deque(maxlen=MAX_QUEUED)
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.sent = 0  # reports the control plane took
        self.frames = 0  # report frames it acked
        self.channel: Channel | None = None
        self._frame_id = 0
        self._acks: dict[int, asyncio.Future[list[dict[str, Any]]]] = {}
        self._last_frame_at = float("-inf")
        self._no_frames_on: int | None = None  # a connection whose control plane never acked
        self._acked_on: int | None = None  # the last connection that acked a frame

    def attach(self, channel: Channel) -> None:
        """Send task changes up ``channel`` while it is connected."""
        self.channel = channel
        channel.handlers[ACK_TYPE] = self._acked

    def task_change(self, params: dict[str, Any]) -> None:
        self._put(TASK_CHANGE, params)

    def container_change(self, params: dict[str, Any]) -> None:
        self._put("submit_container_state_change", params)

    def _put(self, method: str, params: dict[str, Any]) -> None:
        if len(self._queue) == MAX_QUEUED:
            log.warning("report queue full; dropping the oldest report")
        self._queue.append((method, params))
        self._idle.clear()
        self._ready.set()

    async def run(self) -> None:
        delay = RETRY_START
        while True:
            if not self._queue:
                self._idle.set()
                self._ready.clear()
                await self._ready.wait()
                continue
            method, params = self._queue[0]
            if method == TASK_CHANGE and self._socket_up():
                await self._send_frame()  # on a failure the next turn sends again, or over HTTP
                delay = RETRY_START
            elif await self._send(method, params):
                self._queue.popleft()
                delay = RETRY_START
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    def _socket_up(self) -> bool:
        channel = self.channel
        return channel is not None and channel.connected and channel.connections != self._no_frames_on

    async def _send_frame(self) -> None:
        """The task changes at the head of the queue in one frame, taken off once acked."""
        channel = self.channel
        assert channel is not None
        loop = asyncio.get_running_loop()
        pause = self._last_frame_at + FRAME_GAP - loop.time()
        if pause > 0:
            await asyncio.sleep(pause)
        batch = list(islice(takewhile(lambda entry: entry[0] == TASK_CHANGE, self._queue), FRAME_REPORTS))
        if not batch:
            return
        self._frame_id += 1
        frame_id, connection = self._frame_id, channel.connections
        acked: asyncio.Future[list[dict[str, Any]]] = loop.create_future()
        self._acks[frame_id] = acked
        try:
            reports = [_wire(params) for _, params in batch]
            if not await channel.deliver({"type": FRAME_TYPE, "id": frame_id, "reports": reports}):
                return
            self._last_frame_at = sent_at = loop.time()
            while not acked.done():
                if not channel.connected or channel.connections != connection:
                    return  # lost with its connection: sent again
                if loop.time() - sent_at > ACK_TIMEOUT and self._acked_on != connection:
                    log.warning(
                        "no ack for report frame %s in %g s; reporting over HTTP", frame_id, ACK_TIMEOUT
                    )
                    self._no_frames_on = connection
                    return
                await asyncio.wait({acked}, timeout=ACK_POLL)
        finally:
            self._acks.pop(frame_id, None)
        refused = acked.result()
        self._acked_on = connection
        for refusal in refused:
            index = refusal.get("index")
            task = batch[index][1].get("task") if isinstance(index, int) and 0 <= index < len(batch) else None
            log.warning(
                "task report for %s refused: %s %s", task, refusal.get("code"), refusal.get("message")
            )
        for entry in batch:  # the queue may have shed its oldest meanwhile (full)
            if self._queue and self._queue[0] is entry:
                self._queue.popleft()
        self.sent += len(batch) - len(refused)
        self.frames += 1

    def _acked(self, frame: dict[str, Any]) -> None:
        waiting = self._acks.get(frame.get("id"))  # type: ignore[arg-type]
        refused = frame.get("refused")
        if waiting is not None and not waiting.done():
            waiting.set_result(
                [r for r in refused if isinstance(r, dict)] if isinstance(refused, list) else []
            )

    async def _send(self, method: str, params: dict[str, Any]) -> bool:
        """True when the report is done with (sent, or refused for good)."""
        try:
            await self.run_blocking(lambda: getattr(self.client, method)(**params))
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if (
                code in RETRIED_CODES
                or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) >= 500
            ):
                log.warning("%s for %s: %s; retrying", method, params.get("task"), code)
                return False
            log.warning("%s for %s refused: %s", method, params.get("task"), error)
            return True
        except ParamValidationError as error:  # a bug of ours; resending will not fix it
            log.error("%s for %s is malformed: %s", method, params.get("task"), error)
            return True
        except (BotoCoreError, OSError) as error:
            log.warning("%s for %s failed: %s; retrying", method, params.get("task"), error)
            return False
        self.sent += 1
        log.debug("%s %s %s", method, params.get("task"), params.get("status"))
        return True

    async def drain(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until every queued report went out."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False


def _wire(params: dict[str, Any]) -> dict[str, Any]:
    """A report's boto3 parameters as its request body: timestamps as epoch seconds."""
    return {
        name: value.timestamp() if isinstance(value, datetime.datetime) else value
        for name, value in params.items()
        if value is not None
    }
