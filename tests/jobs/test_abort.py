"""Abort criteria against a job's counts."""

from __future__ import annotations

import pytest

from dockyard.jobs.abort import abort_reason
from dockyard.jobs.plan import AbortCriterion, Plan


def _plan(failure_type: str, threshold: float, minimum: int) -> Plan:
    return Plan(abort=(AbortCriterion(failure_type, threshold, minimum),))


@pytest.mark.parametrize(
    ("plan", "counts", "reason"),
    [
        (Plan(), {"FAILED": 10}, None),
        (_plan("FAILED", 50, 2), {"FAILED": 1}, None),
        (_plan("FAILED", 50, 2), {"FAILED": 1, "SUCCEEDED": 1}, "FAILED_ABORT_THRESHOLD_MET"),
        (_plan("FAILED", 50, 2), {"FAILED": 1, "SUCCEEDED": 2}, None),
        (_plan("TIMED_OUT", 10, 1), {"FAILED": 5, "SUCCEEDED": 5}, None),
        (
            _plan("ALL", 30, 1),
            {"FAILED": 1, "REJECTED": 1, "TIMED_OUT": 1, "SUCCEEDED": 7},
            "ALL_ABORT_THRESHOLD_MET",
        ),
        (_plan("FAILED", 50, 1), {"QUEUED": 9, "CANCELED": 3, "FAILED": 0}, None),
    ],
    ids=[
        "no criteria never abort",
        "too few executed yet",
        "the threshold met",
        "below the threshold",
        "another failure type does not count",
        "ALL counts every failure type",
        "queued and canceled items are not executed",
    ],
)
def test_abort_reason(plan: Plan, counts: dict[str, int], reason: str | None) -> None:
    assert abort_reason(plan, counts) == reason
