"""Blocking calls on daemon threads: results, errors, cancellation, the concurrency bound."""

from __future__ import annotations

import asyncio
import threading

import pytest

from dockyard.agent.threads import BlockingRunner, Stopped, unless_stopped


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
    together = threading.Barrier(3, timeout=120)  # passes only when three calls run at once

    def work() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        together.wait()
        with lock:
            running -= 1

    async def main() -> None:
        run = BlockingRunner(asyncio.get_running_loop(), limit=3)
        await asyncio.gather(*(run(work) for _ in range(9)))

    asyncio.run(main())
    assert peak == 3


def test_a_stop_gives_up_a_call_that_does_not_return() -> None:
    async def scenario() -> None:
        runner, stop = BlockingRunner(asyncio.get_running_loop()), asyncio.Event()
        never = threading.Event()
        asyncio.get_running_loop().call_later(0.1, stop.set)
        with pytest.raises(Stopped):
            await asyncio.wait_for(unless_stopped(runner(never.wait), stop), 60)
        assert await unless_stopped(runner(lambda: 42), asyncio.Event()) == 42

    asyncio.run(scenario())


def test_a_call_finishing_within_the_grace_is_awaited() -> None:
    async def scenario() -> str:
        stop = asyncio.Event()
        stop.set()

        async def winding_down() -> str:
            await asyncio.sleep(0.2)
            return "done"

        return await unless_stopped(winding_down(), stop, grace=5)

    assert asyncio.run(scenario()) == "done"
