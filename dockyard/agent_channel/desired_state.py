"""The full desired state of one container instance, as the agent channel sends it.

Every frame carries every task the instance should know about, so a frame costs what the
instance holds: under binpack a busy instance holds hundreds of tasks, and every placement on
it sends a new frame. Most of a task's entry never changes (its ARN, definition, overrides,
containers, launch type, creation time); only ``desiredStatus`` does. So each connection keeps
a :class:`FrameBuilder` that remembers the entries it built, serialized: a frame reads one
narrow row per live task (id, desired status, definition ARN and the definition's own changing
members), reads and serializes only the tasks that are new or changed since the last frame, and
splices the kept entries in as they are. Rendered task definitions are shared by
the connections of a process (a definition's body never changes; its status members are part
of the key).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import orjson
from sqlalchemy import Row, bindparam, select

from dockyard.agent_channel import agent_update
from dockyard.context import RequestContext
from dockyard.ecs import task_definitions
from dockyard.store.schema import container_instances, tasks
from dockyard.store.schema import task_definitions as definitions_table

_definitions = definitions_table.c
_INSTANCE = select(container_instances).where(container_instances.c.id == bindparam("instance_id"))
_LIVE_TASKS = (
    select(
        tasks.c.id,
        tasks.c.desired_status,
        tasks.c.task_definition_arn,
        _definitions.status,
        _definitions.deregistered_at,
        _definitions.delete_requested_at,
    )
    .join(definitions_table, _definitions.arn == tasks.c.task_definition_arn)
    .where(tasks.c.container_instance_id == bindparam("instance_id"), tasks.c.last_status != "STOPPED")
    .order_by(tasks.c.id)
)
_TASK_ENTRIES = select(
    tasks.c.id, tasks.c.arn, tasks.c.overrides, tasks.c.containers, tasks.c.launch_type, tasks.c.created_at
).where(tasks.c.id.in_(bindparam("ids", expanding=True)))
_DEFINITION = select(definitions_table).where(_definitions.arn == bindparam("arn"))
_DEFINITIONS_KEPT = 512

# (ARN, status, deregisteredAt, deleteRequestedAt) -> the rendered TaskDefinition
_rendered: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
_rendered_lock = threading.Lock()


class FrameBuilder:
    """Builds one instance's state frames, keeping each task's entry (as JSON) between frames."""

    def __init__(self) -> None:
        # task id -> (its live row as last read, its entry serialized)
        self._entries: dict[int, tuple[tuple[Any, ...], bytes]] = {}

    def frame_if_changed(
        self, ctx: RequestContext, instance_id: int, cluster_arn: str, sent_version: int | None
    ) -> tuple[int, bytes] | None:
        """``(version, frame as JSON)`` when the instance's version moved past ``sent_version``
        (an empty frame when it did not), None when the instance is gone (deregistered)."""
        instance = ctx.conn.execute(_INSTANCE, {"instance_id": instance_id}).first()
        if instance is None or instance.status == "INACTIVE":
            return None
        if instance.desired_version == sent_version:
            return int(instance.desired_version), b""
        return int(instance.desired_version), self.frame(ctx, instance, cluster_arn)

    def frame(self, ctx: RequestContext, instance: Row[Any], cluster_arn: str) -> bytes:
        """Every task the instance should know about (all of its tasks not yet reported
        STOPPED), as one JSON frame."""
        live = [tuple(row) for row in ctx.conn.execute(_LIVE_TASKS, {"instance_id": instance.id})]
        kept = self._entries
        # New tasks, and tasks whose desired status (or definition's status) moved.
        stale = [row[0] for row in live if (entry := kept.get(row[0])) is None or entry[0] != row]
        details = {row.id: row for row in ctx.conn.execute(_TASK_ENTRIES, {"ids": stale})} if stale else {}
        entries: dict[int, tuple[tuple[Any, ...], bytes]] = {}
        for row in live:
            task = details.get(row[0])
            if task is None:
                entries[row[0]] = kept[row[0]]
            else:
                entries[row[0]] = (row, orjson.dumps(_entry(task, row[1], _definition(ctx, row[2:]))))
        self._entries = entries
        head: dict[str, Any] = {
            "type": "state",
            "version": instance.desired_version,
            "clusterArn": cluster_arn,
            "containerInstanceArn": instance.arn,
        }
        if instance.jobs_version:  # the agent asks for its thing's job executions when it moves
            head["jobs"] = instance.jobs_version
        update_offer = agent_update.offer(instance)
        if update_offer is not None:
            head["agentUpdate"] = update_offer
        # The kept entries are spliced in as they are: no task is serialized twice.
        return orjson.dumps(head)[:-1] + b',"tasks":[' + b",".join(e for _, e in entries.values()) + b"]}"


def _entry(task: Any, desired_status: str, definition: dict[str, Any]) -> dict[str, Any]:
    return {
        "taskArn": task.arn,
        "desiredStatus": desired_status,
        "family": definition["family"],
        "revision": definition["revision"],
        "taskDefinition": definition,
        "overrides": task.overrides,
        "containers": [{"name": c["name"], "containerArn": c["containerArn"]} for c in task.containers],
        "launchType": task.launch_type,
        "createdAt": task.created_at,
    }


def _definition(ctx: RequestContext, key: tuple[Any, ...]) -> dict[str, Any]:
    """The rendered TaskDefinition shape (without null members) of one revision in one state."""
    with _rendered_lock:
        found = _rendered.get(key)
        if found is not None:
            _rendered.move_to_end(key)
            return found
    row = ctx.conn.execute(_DEFINITION, {"arn": key[0]}).one()
    rendered = {k: v for k, v in task_definitions.render(row).items() if v is not None}
    with _rendered_lock:
        _rendered[key] = rendered
        while len(_rendered) > _DEFINITIONS_KEPT:
            _rendered.popitem(last=False)
    return rendered
