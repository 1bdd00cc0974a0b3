"""Item (job execution) and job statuses, and which item transitions are allowed."""

from __future__ import annotations

QUEUED = "QUEUED"
IN_PROGRESS = "IN_PROGRESS"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
TIMED_OUT = "TIMED_OUT"
REJECTED = "REJECTED"
REMOVED = "REMOVED"
CANCELED = "CANCELED"

PENDING = frozenset({QUEUED, IN_PROGRESS})
TERMINAL = frozenset({SUCCEEDED, FAILED, TIMED_OUT, REJECTED, REMOVED, CANCELED})
ALL = (QUEUED, IN_PROGRESS, SUCCEEDED, FAILED, TIMED_OUT, REJECTED, REMOVED, CANCELED)
# What the item's worker (a device) may report, and from where.
WORKER_MAY_SET = frozenset({IN_PROGRESS, SUCCEEDED, FAILED, REJECTED})

# Job statuses.
JOB_IN_PROGRESS = "IN_PROGRESS"
JOB_SCHEDULED = "SCHEDULED"
JOB_CANCELED = "CANCELED"
JOB_COMPLETED = "COMPLETED"
JOB_DELETING = "DELETION_IN_PROGRESS"
JOB_TERMINAL = frozenset({JOB_CANCELED, JOB_COMPLETED})


def worker_may_move(current: str, wanted: str) -> bool:
    """Whether a worker may move an item from ``current`` to ``wanted``."""
    if current in TERMINAL or wanted not in WORKER_MAY_SET:
        return False
    return not (current == IN_PROGRESS and wanted == QUEUED)
