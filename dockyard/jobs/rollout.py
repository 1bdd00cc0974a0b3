"""Rollout pacing: how many items a job may release now, as a pure function of its plan,
its persisted rollout state and the clock.

Releases are counted in one-minute windows. With ``maximumPerMinute`` a window releases at
most that many; with an exponential rate it starts at the base rate and multiplies by the
increment factor each time the notified (released) or succeeded count grows by the
criterion's number since the last increase, never above ``maximumPerMinute`` when both are
given (as IoT documents it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from dockyard.jobs.plan import MINUTE_SECONDS, Plan

WINDOW_SECONDS = MINUTE_SECONDS
MOST_PER_MINUTE = 1000  # IoT's ceiling for maximumPerMinute


@dataclass(frozen=True)
class RolloutState:
    window_start: float = 0.0
    released_in_window: int = 0
    released: int = 0
    rate: float = 0.0  # per minute, exponential rollouts only
    notified_mark: int = 0  # released count at the last rate increase
    succeeded_mark: int = 0


@dataclass(frozen=True)
class Release:
    count: int
    state: RolloutState
    next_at: float | None  # when more may be released (None: no more waiting needed)


def rate(plan: Plan, state: RolloutState) -> float | None:
    if plan.base_rate_per_minute is not None:
        current = state.rate or float(plan.base_rate_per_minute)
        return min(current, float(plan.maximum_per_minute or MOST_PER_MINUTE))
    return None if plan.maximum_per_minute is None else float(plan.maximum_per_minute)


def release(plan: Plan, state: RolloutState, *, waiting: int, succeeded: int, now: float) -> Release:
    """How many of the ``waiting`` items to release at ``now``, and the state after."""
    state = _grown(plan, state, succeeded)
    per_minute = rate(plan, state)
    if per_minute is None:
        return Release(waiting, replace(state, released=state.released + waiting), None)
    if now >= state.window_start + WINDOW_SECONDS:
        state = replace(state, window_start=now, released_in_window=0)
    allowed = max(0, math.floor(per_minute) - state.released_in_window)
    count = min(allowed, waiting)
    state = replace(
        state, released_in_window=state.released_in_window + count, released=state.released + count
    )
    state = _grown(plan, state, succeeded)
    more = waiting > count
    return Release(count, state, state.window_start + WINDOW_SECONDS if more else None)


def _grown(plan: Plan, state: RolloutState, succeeded: int) -> RolloutState:
    """The exponential rate after its criterion was met (once per time it is met)."""
    if plan.base_rate_per_minute is None:
        return state
    current = state.rate or float(plan.base_rate_per_minute)
    notified = plan.increase_after_notified
    if notified and state.released - state.notified_mark >= notified:
        return replace(state, rate=current * plan.increment_factor, notified_mark=state.released)
    after = plan.increase_after_succeeded
    if after and succeeded - state.succeeded_mark >= after:
        return replace(state, rate=current * plan.increment_factor, succeeded_mark=succeeded)
    return replace(state, rate=current)
