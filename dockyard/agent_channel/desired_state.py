"""The full desired state of one container instance, as the agent channel sends it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select

from dockyard.agent_channel import agent_update
from dockyard.context import RequestContext
from dockyard.ecs import task_definitions
from dockyard.store.schema import container_instances, tasks
from dockyard.store.schema import task_definitions as definitions_table


def instance_version(ctx: RequestContext, instance_id: int) -> int | None:
    """The instance's desired-state version, or None once it is gone (deregistered)."""
    row = ctx.conn.execute(
        select(container_instances.c.desired_version, container_instances.c.status).where(
            container_instances.c.id == instance_id
        )
    ).first()
    return None if row is None or row.status == "INACTIVE" else int(row.desired_version)


def state_frame(ctx: RequestContext, instance: Row[Any], cluster_arn: str) -> dict[str, Any]:
    """Every task the instance should know about: all of its tasks not yet reported STOPPED."""
    rows = ctx.conn.execute(
        select(tasks, definitions_table)
        .join(definitions_table, definitions_table.c.arn == tasks.c.task_definition_arn)
        .where(tasks.c.container_instance_id == instance.id, tasks.c.last_status != "STOPPED")
        .order_by(tasks.c.id)
    ).all()
    frame_tasks = []
    for row in rows:
        mapping = row._mapping
        task = {name: mapping[tasks.c[name]] for name in tasks.c.keys()}  # noqa: SIM118 (a column collection)
        definition = task_definitions.render(_DefinitionRow(mapping))  # type: ignore[arg-type]
        frame_tasks.append(
            {
                "taskArn": task["arn"],
                "desiredStatus": task["desired_status"],
                "family": definition["family"],
                "revision": definition["revision"],
                "taskDefinition": {key: value for key, value in definition.items() if value is not None},
                "overrides": task["overrides"],
                "containers": [
                    {"name": c["name"], "containerArn": c["containerArn"]} for c in task["containers"]
                ],
                "launchType": task["launch_type"],
                "createdAt": task["created_at"],
            }
        )
    frame = {
        "type": "state",
        "version": instance.desired_version,
        "clusterArn": cluster_arn,
        "containerInstanceArn": instance.arn,
        "tasks": frame_tasks,
    }
    update_offer = agent_update.offer(instance)
    if update_offer is not None:
        frame["agentUpdate"] = update_offer
    return frame


class _DefinitionRow:
    """Attribute access to the task-definition columns of a joined row."""

    def __init__(self, mapping: Any) -> None:
        self._mapping = mapping

    def __getattr__(self, name: str) -> Any:
        return self._mapping[definitions_table.c[name]]
