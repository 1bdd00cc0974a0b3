"""S3 Batch Operations job statuses and who may move a job where (pure, table-tested).

New → Preparing → Suspended (confirmation required) or Ready → Active → Completing → Complete;
Pausing → Paused while higher priorities hold the capacity; Cancelling → Cancelled; Failing →
Failed. A user moves a job only with UpdateJobStatus: Ready from Suspended, Cancelled from
any status that is neither final nor already on its way to one.
"""

from __future__ import annotations

NEW = "New"
PREPARING = "Preparing"
SUSPENDED = "Suspended"
READY = "Ready"
ACTIVE = "Active"
PAUSING = "Pausing"
PAUSED = "Paused"
COMPLETING = "Completing"
COMPLETE = "Complete"
CANCELLING = "Cancelling"
CANCELLED = "Cancelled"
FAILING = "Failing"
FAILED = "Failed"

TERMINAL = frozenset({COMPLETE, CANCELLED, FAILED})
# On their way to a final status: a cancel can no longer change where they end.
CLOSING = frozenset({CANCELLING, COMPLETING, FAILING})
# Statuses in which the engine runs the job's items.
RUNNING = frozenset({ACTIVE, PAUSING, PAUSED})

# S3's failure threshold: past this many executed tasks, a job with more than this share of
# them failed fails.
FAILURE_MIN_EXECUTED = 1000
FAILURE_SHARE = 0.5


def requested(current: str, wanted: str) -> str | None:
    """The status UpdateJobStatus moves a ``current`` job to when ``wanted``; None: refused."""
    if wanted == READY:
        return READY if current == SUSPENDED else None
    if wanted == CANCELLED:
        return None if current in TERMINAL or current in CLOSING else CANCELLING
    return None


def over_failure_threshold(executed: int, failed: int) -> bool:
    return executed >= FAILURE_MIN_EXECUTED and failed > executed * FAILURE_SHARE


def while_running(*, executed: int, failed: int, pending: int, starved: bool, current: str) -> str:
    """Where a running job goes next: failing past the threshold, completing when no item is
    left, pausing while higher priorities take every slot (and back when they let go)."""
    if over_failure_threshold(executed, failed):
        return FAILING
    if pending == 0:
        return COMPLETING
    if starved:
        return PAUSED if current in (PAUSING, PAUSED) else PAUSING
    return ACTIVE
