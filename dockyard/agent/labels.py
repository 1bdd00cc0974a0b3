"""The labels that tie a container on the host to its task, container and agent.

They are the agent's memory across restarts: the level-triggered sync lists the containers
carrying this agent's instance id and matches them to the desired tasks by task ARN.
"""

from __future__ import annotations

from collections.abc import Mapping

from dockyard.agent.spec import ContainerSpec, TaskSpec

TASK_ARN = "com.amazonaws.ecs.task-arn"
CONTAINER_NAME = "com.amazonaws.ecs.container-name"
CLUSTER = "com.amazonaws.ecs.cluster"
FAMILY = "com.amazonaws.ecs.task-definition-family"
VERSION = "com.amazonaws.ecs.task-definition-version"
INSTANCE_ARN = "dockyard.instance-arn"
# The stable instance id survives a re-registration under a new ARN, so containers of the
# old registration are still found (and cleaned up as orphans) rather than leaked.
INSTANCE_ID = "dockyard.instance-id"
STOP_TIMEOUT = "dockyard.stop-timeout"  # lets an orphan be stopped as gently as its spec said


def container_labels(
    task: TaskSpec, container: ContainerSpec, *, instance_arn: str, instance_id: str
) -> dict[str, str]:
    """The user's dockerLabels plus ours (ours win: they are how we find the container)."""
    labels = {str(k): str(v) for k, v in (container.definition.get("dockerLabels") or {}).items()}
    labels.update(
        {
            TASK_ARN: task.arn,
            CONTAINER_NAME: container.name,
            CLUSTER: task.cluster_arn,
            FAMILY: task.family,
            VERSION: str(task.revision),
            INSTANCE_ARN: instance_arn,
            INSTANCE_ID: instance_id,
            STOP_TIMEOUT: f"{container.stop_timeout:g}",
        }
    )
    return labels


def stop_timeout_of(labels: Mapping[str, str], default: float = 30.0) -> float:
    try:
        return float(labels.get(STOP_TIMEOUT, default))
    except ValueError:
        return default
