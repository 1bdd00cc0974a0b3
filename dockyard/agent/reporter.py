"""Sends the agent's reports (SubmitTaskStateChange, SubmitContainerStateChange) in order.

Task owners queue a report and move on; one worker sends them through boto3 in the order
they were made and retries with back-off while the control plane is unreachable or busy.
A report the control plane refuses (a task it no longer knows) is dropped: the control
plane only moves statuses forward, so the owners' later reports carry everything again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

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


class Reporter:
    """A FIFO of ECS state-change calls and the worker that sends them."""

    def __init__(self, client: Any, run_blocking: Callable[..., Awaitable[Any]]) -> None:
        self.client, self.run_blocking = client, run_blocking
        self._queue: deque[tuple[str, dict[str, Any]]] = deque(maxlen=MAX_QUEUED)
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.sent = 0

    def task_change(self, params: dict[str, Any]) -> None:
        self._put("submit_task_state_change", params)

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
            if await self._send(method, params):
                self._queue.popleft()
                delay = RETRY_START
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

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
