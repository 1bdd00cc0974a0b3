"""A job's plan in the engine's words, written by the API that owns the job kind."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

# How long the engine's minute is: rollout windows and timeouts are counted in minutes. Only
# tests shorten it (a step timeout is a minute at least), so they need not wait a real one.
MINUTE_SECONDS = float(os.environ.get("DOCKYARD_JOBS_MINUTE_SECONDS", 60))


@dataclass(frozen=True)
class AbortCriterion:
    failure_type: str  # FAILED | REJECTED | TIMED_OUT | ALL
    threshold_percentage: float
    min_executed: int


@dataclass(frozen=True)
class Plan:
    continuous: bool = False
    maximum_per_minute: int | None = None  # None: release every item at once
    base_rate_per_minute: int | None = None  # exponential rollout, when given
    increment_factor: float = 1.0
    increase_after_notified: int | None = None
    increase_after_succeeded: int | None = None
    abort: tuple[AbortCriterion, ...] = ()
    in_progress_timeout_seconds: float | None = None
    retries: dict[str, int] = field(default_factory=dict)  # FAILED | TIMED_OUT | ALL -> count
    start_at: float | None = None
    end_at: float | None = None
    end_behavior: str | None = None  # STOP_ROLLOUT | CANCEL | FORCE_CANCEL

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Plan:
        given = dict(value)
        given["abort"] = tuple(AbortCriterion(**criterion) for criterion in given.get("abort", ()))
        return cls(**given)

    def retries_for(self, status: str) -> int:
        return max(self.retries.get(status, 0), self.retries.get("ALL", 0))
