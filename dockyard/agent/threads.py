"""Blocking calls (driver, boto3) run from the event loop on daemon threads.

A driver call may block for a long time (a stop waits up to the container's stopTimeout),
and the agent must be able to exit while one is under way: the next start adopts whatever
the call left behind. A standard ThreadPoolExecutor would hold the interpreter's exit until
every call returned, so each call gets a daemon thread of its own, at most ``limit`` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

DEFAULT_LIMIT = 64
T = TypeVar("T")


class BlockingRunner:
    """``await runner(function, *args)`` runs ``function(*args)`` on a daemon thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int = DEFAULT_LIMIT) -> None:
        self.loop = loop
        self._slots = asyncio.Semaphore(limit)

    async def __call__(self, function: Callable[..., Any], *args: Any) -> Any:
        async with self._slots:
            future: asyncio.Future[Any] = self.loop.create_future()
            thread = threading.Thread(
                target=self._work,
                args=(future, function, args),
                name=getattr(function, "__name__", "blocking"),
                daemon=True,
            )
            thread.start()
            return await future

    def _work(self, future: asyncio.Future[Any], function: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            result = function(*args)
        except BaseException as error:  # handed to the awaiting coroutine, whatever it is
            self._settle(future, None, error)
        else:
            self._settle(future, result, None)

    def _settle(self, future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
        def settle() -> None:
            if future.done():
                return  # the caller was cancelled meanwhile
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        # A closed loop means the agent is exiting and nobody waits for the answer any more.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(settle)


class Stopped(Exception):
    """The agent was told to stop while waiting for something."""


async def unless_stopped(awaitable: Awaitable[T], stop: asyncio.Event, grace: float = 0.0) -> T:
    """Await ``awaitable``, but once ``stop`` is set give it ``grace`` seconds to finish by
    itself, then cancel it and raise :class:`Stopped`.

    A stopping agent must not wait for a call to an unreachable control plane or a wedged
    engine (the blocking part runs on a daemon thread, which is simply left behind)."""
    work = asyncio.ensure_future(awaitable)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done() and grace > 0:
            await asyncio.wait({work}, timeout=grace)
        if work.done():
            return work.result()
        raise Stopped
    finally:
        stopping.cancel()
        if not work.done():
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
