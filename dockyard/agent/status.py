"""Ordered statuses of containers and tasks, and how they read in ECS reports.

Statuses are ``IntEnum``s so that "has reached" is a plain comparison (``known >= RUNNING``)
and moving forward is ``max(old, new)``: a status never goes back.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ContainerStatus(IntEnum):
    """Where a container is on its one-way road; STOPPED is terminal."""

    NONE = 0
    PULLED = 1
    CREATED = 2
    RUNNING = 3
    STOPPED = 4

    @property
    def report_name(self) -> str:
        """The ECS container status this one is reported as."""
        if self is ContainerStatus.STOPPED:
            return "STOPPED"
        if self is ContainerStatus.RUNNING:
            return "RUNNING"
        return "PENDING"


class TaskStatus(IntEnum):
    """A task's status as the agent knows it; desired statuses use RUNNING and STOPPED."""

    NONE = 0
    PENDING = 1
    RUNNING = 2
    STOPPED = 3

    @classmethod
    def parse_desired(cls, value: str) -> TaskStatus:
        """A frame's ``desiredStatus``: anything but RUNNING (or PENDING) means stop."""
        return cls.RUNNING if value in ("RUNNING", "PENDING") else cls.STOPPED


class HealthStatus(StrEnum):
    """A container's health check result, as the health frames carry it."""

    UNKNOWN = "UNKNOWN"
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"


class Condition(StrEnum):
    """A ``dependsOn`` condition."""

    START = "START"
    COMPLETE = "COMPLETE"
    SUCCESS = "SUCCESS"
    HEALTHY = "HEALTHY"
