"""What a worker (device) may do to its item."""

from __future__ import annotations

import pytest

from dockyard.jobs.states import worker_may_move


@pytest.mark.parametrize(
    ("current", "wanted", "allowed"),
    [
        ("QUEUED", "IN_PROGRESS", True),
        ("QUEUED", "SUCCEEDED", True),
        ("IN_PROGRESS", "FAILED", True),
        ("IN_PROGRESS", "REJECTED", True),
        ("IN_PROGRESS", "IN_PROGRESS", True),
        ("SUCCEEDED", "IN_PROGRESS", False),
        ("CANCELED", "SUCCEEDED", False),
        ("IN_PROGRESS", "TIMED_OUT", False),
        ("IN_PROGRESS", "CANCELED", False),
    ],
    ids=[
        "start a queued one",
        "finish a queued one at once",
        "fail a running one",
        "reject a running one",
        "report progress",
        "never leave a terminal state",
        "never revive a canceled one",
        "time-outs are the engine's",
        "cancels are the operator's",
    ],
)
def test_worker_may_move(current: str, wanted: str, allowed: bool) -> None:
    assert worker_may_move(current, wanted) is allowed
