"""Abort criteria: whether a job's finished items call for canceling it (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from dockyard.jobs import states
from dockyard.jobs.plan import Plan

_FAILURES = {
    "FAILED": (states.FAILED,),
    "REJECTED": (states.REJECTED,),
    "TIMED_OUT": (states.TIMED_OUT,),
    "ALL": (states.FAILED, states.REJECTED, states.TIMED_OUT),
}
_EXECUTED = (states.SUCCEEDED, states.FAILED, states.REJECTED, states.TIMED_OUT)


def abort_reason(plan: Plan, counts: Mapping[str, int]) -> str | None:
    """The reason code of the first criterion met by ``counts`` (items by status), or None."""
    executed = sum(counts.get(status, 0) for status in _EXECUTED)
    for criterion in plan.abort:
        if executed == 0 or executed < criterion.min_executed:
            continue
        failed = sum(counts.get(status, 0) for status in _FAILURES[criterion.failure_type])
        if failed * 100.0 / executed >= criterion.threshold_percentage:
            return f"{criterion.failure_type}_ABORT_THRESHOLD_MET"
    return None
