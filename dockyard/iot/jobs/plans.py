"""An IoT job's configs (rollout, abort, timeout, retry, scheduling) as the engine's plan."""

from __future__ import annotations

import datetime
from typing import Any

from dockyard.iot.errors import InvalidRequestException
from dockyard.jobs.plan import MINUTE_SECONDS, AbortCriterion, Plan


def plan(spec: dict[str, Any]) -> Plan:
    rollout = spec.get("jobExecutionsRolloutConfig") or {}
    exponential = rollout.get("exponentialRate") or {}
    criteria = exponential.get("rateIncreaseCriteria") or {}
    scheduling = spec.get("schedulingConfig") or {}
    timeout = (spec.get("timeoutConfig") or {}).get("inProgressTimeoutInMinutes")
    return Plan(
        continuous=spec.get("targetSelection") == "CONTINUOUS",
        maximum_per_minute=rollout.get("maximumPerMinute"),
        base_rate_per_minute=exponential.get("baseRatePerMinute"),
        increment_factor=float(exponential.get("incrementFactor", 1.0)),
        increase_after_notified=criteria.get("numberOfNotifiedThings"),
        increase_after_succeeded=criteria.get("numberOfSucceededThings"),
        abort=tuple(
            AbortCriterion(
                failure_type=criterion["failureType"],
                threshold_percentage=float(criterion["thresholdPercentage"]),
                min_executed=int(criterion["minNumberOfExecutedThings"]),
            )
            for criterion in (spec.get("abortConfig") or {}).get("criteriaList", [])
        ),
        in_progress_timeout_seconds=None if timeout is None else timeout * MINUTE_SECONDS,
        retries={
            criterion["failureType"]: int(criterion["numberOfRetries"])
            for criterion in (spec.get("jobExecutionsRetryConfig") or {}).get("criteriaList", [])
        },
        start_at=_moment(scheduling.get("startTime"), "startTime"),
        end_at=_moment(scheduling.get("endTime"), "endTime"),
        end_behavior=scheduling.get("endBehavior"),
    )


def _moment(value: str | None, member: str) -> float | None:
    """``2026-12-03T20:15`` (IoT's StringDateTime, UTC) as epoch seconds."""
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestException(
            f"{member} {value!r} is not a date and time (yyyy-MM-ddTHH:mm)."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()
