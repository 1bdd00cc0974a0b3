"""A service's deployment configuration: ECS's defaults and the checks it makes."""

from __future__ import annotations

import math
from typing import Any

from dockyard.errors import InvalidParameterException

MAX_CIRCUIT_BREAKER_THRESHOLD = 200
MIN_CIRCUIT_BREAKER_THRESHOLD = 3


def deployment_configuration(
    given: dict[str, Any] | None, scheduling_strategy: str, current: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The configuration a service keeps: what was given over what it had, over ECS's defaults
    (REPLICA 100/200, DAEMON 0/100, circuit breaker off)."""
    daemon = scheduling_strategy == "DAEMON"
    defaults: dict[str, Any] = {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 100 if daemon else 200,
        "minimumHealthyPercent": 0 if daemon else 100,
    }
    merged = {**defaults, **(current or {}), **(given or {})}
    minimum, maximum = merged["minimumHealthyPercent"], merged["maximumPercent"]
    if minimum < 0 or maximum < 0:
        raise InvalidParameterException("minimumHealthyPercent and maximumPercent can't be negative.")
    if maximum < minimum:
        raise InvalidParameterException(
            f"maximumPercent ({maximum}) must be greater than or equal to minimumHealthyPercent ({minimum})."
        )
    if daemon and maximum != 100:
        raise InvalidParameterException("The maximumPercent of a DAEMON service must be 100.")
    return merged


def minimum_healthy(desired: int, configuration: dict[str, Any]) -> int:
    """Tasks that must stay RUNNING and healthy during a deployment (rounded up)."""
    return math.ceil(desired * int(configuration["minimumHealthyPercent"]) / 100)


def maximum_tasks(desired: int, configuration: dict[str, Any]) -> int:
    """Tasks allowed RUNNING or PENDING during a deployment (rounded down)."""
    return math.floor(desired * int(configuration["maximumPercent"]) / 100)


def circuit_breaker_threshold(desired: int) -> int:
    """ECS's failure threshold: half the desired count, rounded up, between 3 and 200."""
    return min(MAX_CIRCUIT_BREAKER_THRESHOLD, max(MIN_CIRCUIT_BREAKER_THRESHOLD, math.ceil(desired * 0.5)))


def circuit_breaker(configuration: dict[str, Any]) -> tuple[bool, bool]:
    """(enabled, rollback) of the deployment circuit breaker."""
    breaker = configuration.get("deploymentCircuitBreaker") or {}
    return bool(breaker.get("enable")), bool(breaker.get("rollback"))
