"""Rollout pacing as a pure function of plan, state and clock."""

from __future__ import annotations

import pytest

from dockyard.jobs.plan import Plan
from dockyard.jobs.rollout import WINDOW_SECONDS, Release, RolloutState, release

AT = 1000.0


@pytest.mark.parametrize(
    ("plan", "state", "waiting", "succeeded", "now", "count", "next_at"),
    [
        (Plan(), RolloutState(), 7, 0, AT, 7, None),
        (Plan(maximum_per_minute=2), RolloutState(), 5, 0, AT, 2, AT + WINDOW_SECONDS),
        (
            Plan(maximum_per_minute=2),
            RolloutState(window_start=AT, released_in_window=2),
            3,
            0,
            AT + 1,
            0,
            AT + WINDOW_SECONDS,
        ),
        (
            Plan(maximum_per_minute=2),
            RolloutState(window_start=AT, released_in_window=2),
            3,
            0,
            AT + WINDOW_SECONDS,
            2,
            AT + 2 * WINDOW_SECONDS,
        ),
        (Plan(maximum_per_minute=5), RolloutState(), 3, 0, AT, 3, None),
        (
            Plan(base_rate_per_minute=2, increment_factor=2.0, increase_after_notified=2),
            RolloutState(),
            10,
            0,
            AT,
            2,
            AT + WINDOW_SECONDS,
        ),
        (
            Plan(base_rate_per_minute=2, increment_factor=2.0, increase_after_succeeded=1),
            RolloutState(rate=2.0),
            10,
            1,
            AT,
            4,
            AT + WINDOW_SECONDS,
        ),
        (
            Plan(
                maximum_per_minute=3, base_rate_per_minute=2, increment_factor=5.0, increase_after_succeeded=1
            ),
            RolloutState(rate=2.0),
            10,
            1,
            AT,
            3,
            AT + WINDOW_SECONDS,
        ),
    ],
    ids=[
        "no rollout config releases everything at once",
        "maximumPerMinute caps the first window",
        "a full window releases nothing more",
        "the next window releases again",
        "fewer waiting than the rate leaves nothing to wait for",
        "an exponential rollout starts at its base rate",
        "the succeeded criterion met multiplies the rate",
        "maximumPerMinute caps an exponential rate",
    ],
)
def test_release(
    plan: Plan,
    state: RolloutState,
    waiting: int,
    succeeded: int,
    now: float,
    count: int,
    next_at: float | None,
) -> None:
    step = release(plan, state, waiting=waiting, succeeded=succeeded, now=now)
    assert (step.count, step.next_at) == (count, next_at)


def test_the_notified_criterion_grows_the_rate_for_the_next_window() -> None:
    plan = Plan(base_rate_per_minute=2, increment_factor=1.5, increase_after_notified=2)
    first: Release = release(plan, RolloutState(), waiting=20, succeeded=0, now=AT)
    second = release(plan, first.state, waiting=18, succeeded=0, now=AT + WINDOW_SECONDS)
    assert (first.count, second.count) == (2, 3)
