"""A container the kernel killed for memory is reported OOM-killed even when Docker marks it only
after the exit (its OOM event handled second): the driver looks again within a second of a
SIGKILL exit, and only then. No Docker Engine: the engine's answers are scripted."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from dockyard.agent.drivers import OOM_REASON
from dockyard.agent.drivers.docker import OOM_FLAG_GRACE, DockerDriver


def state(exit_code: int, finished: float, *, oom: bool = False) -> dict[str, Any]:
    stamp = datetime.fromtimestamp(finished, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "Id": "c1",
        "State": {"Status": "exited", "ExitCode": exit_code, "OOMKilled": oom, "FinishedAt": stamp},
        "Config": {"Labels": {}},
    }


class ScriptedApi:
    """``inspect_container`` answers from a list, the last one from then on."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers, self.calls = list(answers), 0

    def inspect_container(self, runtime_id: str) -> dict[str, Any]:
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]


def driver(api: ScriptedApi) -> DockerDriver:
    return DockerDriver("i-1", client=SimpleNamespace(api=api))  # type: ignore[arg-type]


def test_a_kill_just_now_is_looked_at_again_and_its_late_oom_mark_counts() -> None:
    now = time.time()
    api = ScriptedApi(state(137, now), state(137, now, oom=True))
    started = time.monotonic()
    observed = driver(api).inspect("c1")
    assert observed is not None and observed.reason == OOM_REASON
    assert api.calls == 2
    assert time.monotonic() - started <= OOM_FLAG_GRACE + 0.5


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (state(137, time.time() - 60), "killed a minute ago: Docker has long handled its events"),
        (state(0, time.time()), "exited by itself"),
        (state(137, time.time(), oom=True), "already marked"),
    ],
)
def test_other_exits_are_inspected_once(answer: dict[str, Any], why: str) -> None:
    api = ScriptedApi(answer)
    driver(api).inspect("c1")
    assert api.calls == 1, why


def test_a_stop_of_its_own_does_not_wait_for_an_oom_mark() -> None:
    api = ScriptedApi(state(137, time.time()))
    api.stop = lambda runtime_id, timeout: None  # type: ignore[attr-defined]
    driver(api).stop("c1", 1.0)
    assert api.calls == 1
