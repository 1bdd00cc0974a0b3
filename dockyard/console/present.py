"""Pure helpers that turn ECS results into what a page shows: times, bars, resources, diffs."""

from __future__ import annotations

import difflib
import json
import time
from dataclasses import dataclass
from typing import Any


def when(epoch: float | str | None) -> str:
    """An epoch-seconds timestamp as UTC ISO 8601 (seconds), or an empty string."""
    if epoch is None or epoch == "":
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(epoch)))


def short_id(arn: str | None) -> str:
    """The last path element of an ARN (a task's or instance's id)."""
    return (arn or "").rsplit("/", 1)[-1]


def percent(part: float, whole: float) -> float:
    """``part`` of ``whole`` in percent, within 0..100 (0 when there is no whole)."""
    if whole <= 0:
        return 0.0
    return round(max(0.0, min(100.0, 100.0 * part / whole)), 1)


@dataclass(frozen=True, slots=True)
class DeploymentBar:
    """Running and pending tasks of a deployment as widths of a bar scaled to its desired count
    (or to what it has, when it has more than it wants: scale-in under way)."""

    running: int
    pending: int
    desired: int
    running_width: float
    pending_width: float
    desired_mark: float  # where the desired count sits on the bar


def deployment_bar(running: int, pending: int, desired: int) -> DeploymentBar:
    scale = max(desired, running + pending, 1)
    return DeploymentBar(
        running,
        pending,
        desired,
        percent(running, scale),
        percent(pending, scale),
        percent(desired, scale),
    )


@dataclass(frozen=True, slots=True)
class ResourceUse:
    name: str
    registered: int
    remaining: int
    used_width: float

    @property
    def used(self) -> int:
        return self.registered - self.remaining


def _resource(resources: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((r for r in resources if r.get("name") == name), None)


def resource_use(instance: dict[str, Any]) -> list[ResourceUse]:
    """CPU and memory of a container instance: registered, remaining, and the share in use."""
    uses = []
    for name in ("CPU", "MEMORY"):
        registered = _resource(instance.get("registeredResources", []), name)
        remaining = _resource(instance.get("remainingResources", []), name)
        if registered is None or remaining is None:
            continue
        total, left = int(registered.get("integerValue", 0)), int(remaining.get("integerValue", 0))
        uses.append(ResourceUse(name, total, left, percent(total - left, total)))
    return uses


def port_use(instance: dict[str, Any]) -> dict[str, list[str]]:
    """Host ports of an instance: those reserved at registration and those its tasks hold
    (remaining PORTS lists every port taken, reserved ones included, as ECS does)."""
    result: dict[str, list[str]] = {}
    for name, label in (("PORTS", "tcp"), ("PORTS_UDP", "udp")):
        registered = _resource(instance.get("registeredResources", []), name) or {}
        remaining = _resource(instance.get("remainingResources", []), name) or {}
        reserved = set(registered.get("stringSetValue", []))
        taken = set(remaining.get("stringSetValue", []))
        result[f"reserved {label}"] = sorted(reserved, key=_port_key)
        result[f"in use {label}"] = sorted(taken - reserved, key=_port_key)
    return result


def _port_key(port: str) -> tuple[int, str]:
    return (int(port), "") if port.isdigit() else (1 << 30, port)


def pretty_json(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, default=str)


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: str  # "same" | "added" | "removed" | "hunk"
    text: str


def json_diff(old: Any, new: Any, context: int = 3) -> list[DiffLine]:
    """A unified diff of two documents as pretty JSON, line by line (empty when equal)."""
    lines = difflib.unified_diff(
        pretty_json(old).splitlines(), pretty_json(new).splitlines(), lineterm="", n=context
    )
    result = []
    for line in lines:
        if line.startswith(("---", "+++")):
            continue
        kind = {"@": "hunk", "+": "added", "-": "removed"}.get(line[:1], "same")
        result.append(DiffLine(kind, line))
    return result


# Members a describe of a task definition carries that say nothing about what it runs.
DEFINITION_NOISE = (
    "taskDefinitionArn",
    "revision",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "status",
)


def definition_body(definition: dict[str, Any]) -> dict[str, Any]:
    """A task definition without its bookkeeping, for a diff between revisions."""
    return {key: value for key, value in definition.items() if key not in DEFINITION_NOISE}


# A job's executions by status, in the order its progress bar stacks them (done first).
JOB_PROGRESS = (
    ("succeeded", "numberOfSucceededThings"),
    ("failed", "numberOfFailedThings"),
    ("timed_out", "numberOfTimedOutThings"),
    ("rejected", "numberOfRejectedThings"),
    ("canceled", "numberOfCanceledThings"),
    ("removed", "numberOfRemovedThings"),
    ("in_progress", "numberOfInProgressThings"),
    ("queued", "numberOfQueuedThings"),
)


@dataclass(frozen=True, slots=True)
class Segment:
    status: str
    count: int
    x: float
    width: float


@dataclass(frozen=True, slots=True)
class JobProgress:
    total: int
    segments: list[Segment]

    @property
    def done(self) -> int:
        return sum(s.count for s in self.segments if s.status not in ("in_progress", "queued"))


def job_progress(details: dict[str, Any]) -> JobProgress:
    """A job's jobProcessDetails as a stacked bar: one segment per execution status with any."""
    counts = [(status, int(details.get(member) or 0)) for status, member in JOB_PROGRESS]
    total = sum(count for _, count in counts)
    segments, x = [], 0.0
    for status, count in counts:
        if count:
            width = percent(count, total)
            segments.append(Segment(status, count, x, width))
            x += width
    return JobProgress(total, segments)
