"""How Dockyard's long-running processes collect garbage.

A control plane with thousands of agent connections, or a hollow-agent process with hundreds of
simulated instances, holds hundreds of thousands of long-lived objects. With CPython's default
thresholds (700, 10, 10) the cycle collector walked them again and again: 12% of the server's
CPU and about 40% of a hollow agent's during a placement storm at 1,000 instances
(docs/performance.md). What is loaded at start (modules, the botocore models) is frozen out of
collection, and young collections run less often, so most short-lived objects are freed by
reference counting before a collection ever sees them. Cycles are still collected.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)
MIDDLE_THRESHOLD = 20  # young collections per middle one (default 10)
OLD_THRESHOLD = 20  # middle collections per full one (default 10)


def tune_for_long_running() -> None:
    """Call once a process has loaded what it keeps for its whole life."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
