"""The desired state of one container instance, as the agent channel sends it.

A connection's first frame carries every task the instance should know about (its tasks not
yet reported STOPPED). Under binpack a busy instance holds hundreds of tasks, and every
placement on it makes a new frame, so the rest are cheap:

- An agent that asks for deltas (``stateDeltas=1`` on its upgrade, as ``dockyard agent`` does)
  gets frames with only the tasks stamped (``tasks.frame_version``) past the connection's
  previous frame (``since``): entries for the live ones, ARNs for those that left. Whoever
  changes a task's entry stamps it with the instance's new desired version
  (``task_lifecycle.changed_in_frames``, and the insert of a placed task). The socket is
  ordered and reliable, so the agent's copy plus the delta is the full state, and a frame costs
  what changed, not what the instance holds.
- Other agents get the whole state every time; their connection keeps every entry it built,
  serialized, reads one narrow row per live task, and serializes only tasks that are new or
  whose desired status (or definition's status) moved.

Rendered task definitions are shared by the connections of a process (a definition's body
never changes; its status members are part of the key).
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
from dockyard.store import direct
from dockyard.store.schema import container_instances, tasks
from dockyard.store.schema import task_definitions as definitions_table

_definitions = definitions_table.c
_INSTANCE = select(
    container_instances.c.id,
    container_instances.c.arn,
    container_instances.c.status,
    container_instances.c.desired_version,
    container_instances.c.jobs_version,
    container_instances.c.agent_update_status,
).where(container_instances.c.id == bindparam("instance_id"))
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
# A delta's tasks: those of the instance stamped past the connection's last frame.
_CHANGED_TASKS = (
    select(
        tasks.c.id,
        tasks.c.desired_status,
        tasks.c.task_definition_arn,
        _definitions.status,
        _definitions.deregistered_at,
        _definitions.delete_requested_at,
        tasks.c.last_status,
        tasks.c.arn,
        tasks.c.overrides,
        tasks.c.containers,
        tasks.c.launch_type,
        tasks.c.created_at,
    )
    .join(definitions_table, _definitions.arn == tasks.c.task_definition_arn)
    .where(
        tasks.c.container_instance_id == bindparam("instance_id"), tasks.c.frame_version > bindparam("since")
    )
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

    def __init__(self, deltas: bool = False) -> None:
        self.deltas = deltas
        # task id -> (its live row as last read, its ARN, its entry serialized)
        self._entries: dict[int, tuple[tuple[Any, ...], str, bytes]] = {}
        self._version: int | None = None  # the version of the last frame sent
        # What the last frame built would make of the two above, once it is sent: a frame built
        # twice (a retried transaction) or never sent must not become the base of a delta.
        self._built: tuple[dict[int, tuple[tuple[Any, ...], str, bytes]], int] | None = None

    def frame_if_changed(
        self, ctx: RequestContext, instance_id: int, cluster_arn: str, sent_version: int | None
    ) -> tuple[int, bytes] | None:
        """``(version, frame as JSON)`` when the instance's version moved past ``sent_version``
        (an empty frame when it did not), None when the instance is gone (deregistered)."""
        instance = direct.execute(ctx.conn, _INSTANCE, {"instance_id": instance_id}).first()
        if instance is None or instance.status == "INACTIVE":
            return None
        if instance.desired_version == sent_version:
            return int(instance.desired_version), b""
        return int(instance.desired_version), self.frame(ctx, instance, cluster_arn)

    def frame(self, ctx: RequestContext, instance: Row[Any], cluster_arn: str) -> bytes:
        """Every task the instance should know about (all of its tasks not yet reported
        STOPPED), as one JSON frame; only what moved since the last frame when deltas are on."""
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
        if self.deltas and self._version is not None:
            return self._delta(ctx, instance, head)
        live = [tuple(row) for row in direct.execute(ctx.conn, _LIVE_TASKS, {"instance_id": instance.id})]
        kept = self._entries
        # New tasks, and tasks whose desired status (or definition's status) moved.
        stale = [row[0] for row in live if (entry := kept.get(row[0])) is None or entry[0] != row]
        details = {row.id: row for row in ctx.conn.execute(_TASK_ENTRIES, {"ids": stale})} if stale else {}
        entries: dict[int, tuple[tuple[Any, ...], str, bytes]] = {}
        for row in live:
            task = details.get(row[0])
            if task is None:
                entries[row[0]] = kept[row[0]]
            else:
                rendered = orjson.dumps(_entry(task, row[1], _definition(ctx, row[2:])))
                entries[row[0]] = (row, task.arn, rendered)
        # A delta connection keeps nothing after its first frame: its deltas read the stamps.
        self._built = ({} if self.deltas else entries), instance.desired_version
        # The kept entries are spliced in as they are: no task is serialized twice.
        return _joined(head, [entry for _, _, entry in entries.values()])

    def _delta(self, ctx: RequestContext, instance: Row[Any], head: dict[str, Any]) -> bytes:
        """The tasks stamped since the connection's last frame: entries for the live ones, ARNs
        for those that left (reported STOPPED)."""
        changed = direct.execute(
            ctx.conn, _CHANGED_TASKS, {"instance_id": instance.id, "since": self._version}
        )
        sent, removed = [], []
        for row in changed:
            if row.last_status == "STOPPED":
                removed.append(row.arn)
            else:
                sent.append(orjson.dumps(_entry(row, row.desired_status, _definition(ctx, tuple(row[2:6])))))
        head["since"], head["removed"] = self._version, removed
        self._built = {}, instance.desired_version
        return _joined(head, sent)

    def sent(self) -> None:
        """The frame last built went out: it is the base of the next one."""
        if self._built is not None:
            self._entries, self._version = self._built
            self._built = None


def _joined(head: dict[str, Any], entries: list[bytes]) -> bytes:
    return orjson.dumps(head)[:-1] + b',"tasks":[' + b",".join(entries) + b"]}"


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
