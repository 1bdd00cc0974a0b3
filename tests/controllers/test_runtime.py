"""The controller runtime: a failing key backs off (and is logged) without holding up the
others; a wake-up makes the runner look at once instead of at its next tick."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

import pytest

from dockyard.controllers.runtime import Runner


class Flaky:
    """Two keys always due: ``bad`` fails every time, ``good`` never does."""

    name = "flaky"
    needs_leader = False

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.calls: Counter[Hashable] = Counter()

    async def due(self, now: float) -> Sequence[Hashable]:
        return ["bad", "good"]

    async def reconcile(self, key: Hashable) -> None:
        self.calls[key] += 1
        if key == "bad":
            raise RuntimeError("this key is broken")


async def _run_for(runner: Runner, seconds: float) -> None:
    task = asyncio.create_task(runner.run())
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_a_failing_key_backs_off_and_is_logged_while_others_go_on(caplog: pytest.LogCaptureFixture) -> None:
    controller = Flaky(interval=0.02)
    runner = Runner(server=None, controller=controller, holder="test")  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="dockyard.controllers.runtime"):
        asyncio.run(_run_for(runner, 1.2))
    assert controller.calls["good"] >= 20
    assert 1 <= controller.calls["bad"] <= 3, "backed off: 0.5-1 s, then 1-2 s"
    failures = [record for record in caplog.records if "reconciling 'bad' failed" in record.getMessage()]
    assert failures and all(record.exc_info for record in failures), "logged with its traceback"
    assert runner.failures == controller.calls["bad"] and runner.reconciles == controller.calls["good"]


def test_a_wake_up_is_seen_at_once() -> None:
    controller = Flaky(interval=60.0)  # without a wake-up: one look a minute
    controller.due = _only_good  # type: ignore[method-assign]
    runner = Runner(server=None, controller=controller, holder="test")  # type: ignore[arg-type]

    async def scenario() -> float:
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0.1)  # the first look
        before, woken_at = controller.calls["good"], time.monotonic()
        runner.woken.set()
        while controller.calls["good"] == before:
            await asyncio.sleep(0.001)
        task.cancel()
        return time.monotonic() - woken_at

    assert asyncio.run(scenario()) < 30.0  # far below the 60 s interval


async def _only_good(now: float) -> Any:
    return ["good"]
