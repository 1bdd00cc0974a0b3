"""Blocking calls on daemon threads: results, errors, cancellation, the concurrency bound."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from dockyard.agent.threads import BlockingRunner


def test_results_and_errors_come_back() -> None:
    async def main() -> None:
        run = BlockingRunner(asyncio.get_running_loop())
        assert await run(lambda a, b: a + b, 2, 3) == 5
        with pytest.raises(ZeroDivisionError):
            await run(lambda: 1 / 0)
        assert await run(lambda: threading.current_thread().daemon)

    asyncio.run(main())


def test_a_cancelled_caller_does_not_wait_for_the_call() -> None:
    release = threading.Event()

    async def main() -> None:
        run = BlockingRunner(asyncio.get_running_loop())
        waiting = asyncio.create_task(run(release.wait))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(main())
    release.set()  # the orphaned call ends after its loop closed, harmlessly


def test_at_most_limit_calls_run_at_once() -> None:
    running, peak, lock = 0, 0, threading.Lock()

    def work() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    async def main() -> None:
        run = BlockingRunner(asyncio.get_running_loop(), limit=3)
        await asyncio.gather(*(run(work) for _ in range(9)))

    asyncio.run(main())
    assert peak == 3
