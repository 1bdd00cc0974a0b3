"""Service events: what the scheduler did and why, in ECS's words, newest first, bounded."""

from __future__ import annotations

import uuid
from typing import Any

from dockyard.context import RequestContext

MAX_EVENTS = 100  # ECS shows the last 100


def add(ctx: RequestContext, events: list[dict[str, Any]], *messages: str) -> list[dict[str, Any]]:
    """``events`` with ``messages`` in front (the same message is not repeated back to back)."""
    for message in messages:
        if events and events[0]["message"] == message:
            continue
        events = [{"id": str(uuid.uuid4()), "createdAt": ctx.now, "message": message}, *events][:MAX_EVENTS]
    return events


def tasks_started(name: str, task_ids: list[str]) -> str:
    listed = " ".join(f"(task {task_id})" for task_id in task_ids)
    return f"(service {name}) has started {len(task_ids)} tasks: {listed}."


def tasks_stopped(name: str, task_ids: list[str], what: str = "running") -> str:
    listed = " ".join(f"(task {task_id})" for task_id in task_ids)
    return f"(service {name}) has stopped {len(task_ids)} {what} tasks: {listed}."


def steady_state(name: str) -> str:
    return f"(service {name}) has reached a steady state."


def deployment_completed(name: str, deployment_id: str) -> str:
    return f"(service {name}) (deployment {deployment_id}) deployment completed."


def deployment_failed(name: str, deployment_id: str) -> str:
    return f"(service {name}) (deployment {deployment_id}) deployment failed: tasks failed to start."


def rolling_back(name: str, deployment_id: str) -> str:
    return f"(service {name}) rolling back to deployment {deployment_id}."


def throttled(name: str) -> str:
    return (
        f"(service {name}) is unable to consistently start tasks successfully. For more information, "
        "see the Troubleshooting section of the Amazon ECS Developer Guide."
    )


def unhealthy(name: str, task_id: str) -> str:
    return f"(service {name}) (task {task_id}) failed container health checks."


_CLOSEST = {
    "RESOURCE:MEMORY": "has insufficient memory available",
    "RESOURCE:CPU": "has insufficient CPU units available",
    "RESOURCE:PORTS": "is already using a port required by your task",
    "RESOURCE:GPU": "has insufficient GPU available",
}


def unable_to_place(name: str, failures: list[dict[str, str]]) -> str:
    """ECS's message for a task no instance could take, naming the closest match's reason."""
    head = (
        f"(service {name}) was unable to place a task because no container instance met all of its "
        "requirements."
    )
    tail = " For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
    if not failures:
        return f"{head} Reason: No Container Instances were found in your cluster.{tail}"
    failure = failures[0]
    closest = _CLOSEST.get(failure.get("reason", ""))
    instance = failure.get("arn", "").rsplit("/", 1)[-1]
    if closest and instance:
        return f"{head} The closest matching (container-instance {instance}) {closest}.{tail}"
    return f"{head} Reason: {failure.get('reason', 'no instance satisfies the service')}.{tail}"
