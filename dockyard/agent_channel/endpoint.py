"""The agent WebSocket: authenticate the upgrade, then push the instance's desired state.

One coroutine per connected agent. It sends the full desired state whenever the instance's
``desired_version`` moves (woken by the notifier for this process's changes, or by the hub's
once-a-second look that catches changes made by other replicas), a heartbeat after 10 s of
sending nothing else, and takes the agent's heartbeats, health, log and task-report frames.
The instance reads ``agentConnected: true`` while frames keep coming (the hub writes the signs
of life of every connection once a second).

An agent is a peer with a key, not a trusted one: its frames are at most 1 MiB (uvicorn's
``ws_max_size``) and come at a bounded rate; one that is not a JSON object of a known shape,
or one past the rate, closes the socket with a close code and one log line. The socket also
closes when its key is revoked (the hub checks every second). An instance may have several
sockets at once: only its last one to close marks it disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any
from urllib.parse import parse_qs

import orjson
from sqlalchemy import select, update
from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from dockyard.agent_channel import agent_update, desired_state, logs, task_report_frames
from dockyard.context import Identity, RequestContext
from dockyard.ecs import clusters, container_instances, placement_cache, task_reports
from dockyard.ecs.services import wake
from dockyard.errors import ApiError
from dockyard.glance import host_loads
from dockyard.identity import keys
from dockyard.identity.authenticate import authenticate_get
from dockyard.identity.keys import AccessKey
from dockyard.server_state import ServerState
from dockyard.store.schema import container_instances as instances_table
from dockyard.store.schema import tasks as tasks_table

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
# Frames an agent may send: a sustained rate and a burst (it sends a few a second at most).
FRAMES_PER_SECOND = 20.0
FRAME_BURST = 200.0
# Close codes (RFC 6455 and the application range).
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_POLICY = 1008
CLOSE_INSTANCE_GONE = 4404


class FrameError(Exception):
    """The agent broke the channel's rules; the socket closes with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class TokenBucket:
    """``rate`` events a second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


FRAME_INTERVAL = 0.1  # at most one state frame per connection this often


class AgentSocket:
    def __init__(self, server: ServerState) -> None:
        self.server = server

    async def handle(self, websocket: WebSocket) -> None:
        """One agent connection, from the signed upgrade to the close."""
        try:
            identity, region = authenticate_get(self.server, websocket.scope)
            query = parse_qs(websocket.scope["query_string"].decode("latin-1"))
            cluster_arn = query.get("clusterArn", [""])[0]
            instance_arn = query.get("containerInstanceArn", [""])[0]
            wants_key = query.get("deviceKey") == ["1"]
            instance, device_key = await self.server.transact(
                identity,
                region,
                lambda ctx: _instance(ctx, cluster_arn, instance_arn, wants_key),
            )
        except ApiError as error:
            await websocket.send_denial_response(PlainTextResponse(error.message, status_code=error.status))
            return
        if instance is None:
            await websocket.send_denial_response(PlainTextResponse("instance not found", status_code=404))
            return
        await websocket.accept()
        if device_key is not None:
            await websocket.send_text(_device_key_frame(device_key))
        wake = self.server.notifier.subscribe(instance.id)
        connection = Connection(self.server, websocket, identity, region, instance, cluster_arn, wake)
        self.server.hub.attach(instance.id, connection)
        try:
            await connection.run()
        except (WebSocketDisconnect, WebSocketDisconnected, ConnectionError):
            pass  # WebSocketDisconnected: a send after the reader's ack found the socket gone
        except FrameError as error:
            log.warning(
                "agent socket of instance %s (key %s) closed: %s",
                instance.arn,
                identity.access_key_id,
                error.reason,
            )
            with contextlib.suppress(Exception):
                await websocket.close(code=error.code, reason=error.reason[:120])
        finally:
            # The instance's last connection to close marks it disconnected (in the hub's tick).
            self.server.hub.detach(instance.id, connection, closed=True)
            self.server.notifier.unsubscribe(instance.id, wake)


def _instance(
    ctx: RequestContext, cluster_arn: str, instance_arn: str, wants_key: bool
) -> tuple[Any, AccessKey | None]:
    """The connecting instance (None if unknown or gone), marked seen, and its device key
    when the agent asked for one."""
    cluster = clusters.find(ctx, cluster_arn or clusters.DEFAULT_CLUSTER)
    if cluster is None:
        return None, None
    row = container_instances.find(ctx, cluster, instance_arn) if instance_arn else None
    if row is None or row.status == "INACTIVE":
        return None, None
    _mark_seen(ctx, row.id, ctx.now)
    # A connected agent takes tasks: placement sees it at once (not at its next look at signs
    # of life), and services waiting for room or running daemons look again.
    placement_cache.changed(ctx, cluster.name, [row.id], lock=True)
    wake.cluster_changed(ctx, cluster.name, capacity_only=True)
    if not wants_key:
        return row, None
    return row, keys.device_key(ctx.conn, ctx.server.sealer, ctx.account_id, row.instance_id)


def _device_key_frame(key: AccessKey) -> str:
    """The key the agent runs its thing's job executions with (kept in its memory only)."""
    return orjson.dumps(
        {
            "type": "deviceKey",
            "thingName": key.thing_name,
            "accessKeyId": key.access_key_id,
            "secretAccessKey": key.secret_access_key,
        }
    ).decode()


def _mark_seen(ctx: RequestContext, instance_id: int, when: float | None) -> None:
    ctx.conn.execute(
        update(instances_table).where(instances_table.c.id == instance_id).values(last_seen_at=when)
    )


class Connection:
    """One connected agent."""

    def __init__(
        self,
        server: ServerState,
        websocket: WebSocket,
        identity: Identity,
        region: str,
        instance: Any,
        cluster_arn: str,
        wake: asyncio.Event,
    ) -> None:
        self.server, self.websocket, self.identity, self.region = server, websocket, identity, region
        self.instance_id = instance.id
        self.cluster_arn = cluster_arn or instance.arn
        self.wake = wake
        self.sent_version: int | None = None
        self.access_key_id = identity.access_key_id if server.verify_signatures else None
        self.revoked = False
        self.frames = TokenBucket(FRAMES_PER_SECOND, FRAME_BURST)
        # Whether the last frame read can hold a NUL: only as the escape "\u0000" (JSON allows
        # no raw control character in a string): a frame without it needs no walk of its strings.
        self.frame_may_hold_nul = True
        query = parse_qs(websocket.scope["query_string"].decode("latin-1"))
        self.frame_builder = desired_state.FrameBuilder(deltas=query.get("stateDeltas") == ["1"])
        self.frame_sent_at = float("-inf")
        self.sent_at = time.monotonic()  # when any frame last went down (a heartbeat is due 10 s on)

    def _db(self, function: Any, *, write: bool = True) -> Any:
        return self.server.transact(self.identity, self.region, function, write=write)

    async def run(self) -> None:
        reader = asyncio.create_task(self._read())
        reader.add_done_callback(lambda _: self.wake.set())  # a closed socket ends the wait at once
        try:
            woken = True  # the first state goes out at once
            while not reader.done():
                if self.revoked:
                    raise FrameError(CLOSE_POLICY, "its access key was revoked")
                if woken and not await self._send_state_if_changed():
                    await self.websocket.close(code=CLOSE_INSTANCE_GONE)
                    return
                # Woken when the desired state may have moved (notifier, hub) or the socket
                # closed; else only for the next heartbeat.
                woken = False
                with contextlib.suppress(TimeoutError):
                    # asyncio.timeout, not wait_for: no task per wait (5,000 connections wait).
                    async with asyncio.timeout(max(0.0, self._next_heartbeat() - time.monotonic())):
                        await self.wake.wait()
                    woken = True
                pause = self.frame_sent_at + FRAME_INTERVAL - time.monotonic()
                if woken and pause > 0 and not reader.done():
                    # Changes that come in a burst (placements landing on a busy instance one
                    # after another) go down together, in one frame.
                    await asyncio.sleep(pause)
                self.wake.clear()
                if time.monotonic() >= self._next_heartbeat():
                    await self.websocket.send_text('{"type":"heartbeat"}')
                    self.sent_at = time.monotonic()
            reader.result()
        finally:
            reader.cancel()

    def _next_heartbeat(self) -> float:
        # Only a connection that has sent nothing for HEARTBEAT_SECONDS needs one: any frame
        # tells the agent the control plane is there.
        return self.sent_at + HEARTBEAT_SECONDS

    async def push(self, frame: dict[str, Any]) -> bool:
        """Send a frame of another kind than state (glance's loadImage); False if the socket is gone."""
        try:
            await self.websocket.send_text(orjson.dumps(frame).decode())
        except (WebSocketDisconnect, ConnectionError, RuntimeError):
            return False
        return True

    async def _send_state_if_changed(self) -> bool:
        found = await self._db(
            lambda ctx: self.frame_builder.frame_if_changed(
                ctx, self.instance_id, self.cluster_arn, self.sent_version
            ),
            write=False,
        )
        if found is None:
            return False
        version, frame = found
        if frame:
            await self.websocket.send_text(frame.decode())
            self.frame_builder.sent()
            self.sent_version, self.frame_sent_at = version, time.monotonic()
            self.sent_at = self.frame_sent_at
        return True

    async def _read(self) -> None:
        while True:
            message = await self._next_frame()
            kind = message.get("type")
            self.server.hub.seen(self.instance_id)
            try:
                if kind == "health":
                    await self._db(lambda ctx, m=message: self._health(ctx, m))
                elif kind == "logs":
                    await self._db(lambda ctx, m=message: logs.append(ctx, m, self.instance_id))
                elif kind == task_report_frames.FRAME_TYPE:
                    await self._task_reports(message)
                elif kind == "agentUpdate":
                    await self._db(
                        lambda ctx, m=message: agent_update.record(
                            ctx, self.instance_id, str(m.get("status"))
                        )
                    )
                elif kind == "imageLoad":  # the host's answer to a loadImage frame (glance)
                    await self._db(
                        lambda ctx, m=message: host_loads.record(ctx.conn, self.instance_id, m, ctx.now)
                    )
                    self.server.controllers.wake(host_loads.SETTLED_BY)
            except (logs.MalformedLogs, ApiError, TypeError, ValueError, AttributeError) as error:
                raise FrameError(CLOSE_UNSUPPORTED_DATA, f"a malformed {kind} frame ({error})") from None

    async def _task_reports(self, message: dict[str, Any]) -> None:
        """A batch of SubmitTaskStateChange bodies: applied, then acked."""
        frame_id, reports = task_report_frames.reports_of(message)
        together = (self.identity.access_key_id, self.region)  # one transaction for many agents' frames
        refused = await task_report_frames.apply_frame(
            self._db, reports, together=together, may_hold_nul=self.frame_may_hold_nul
        )
        await self.websocket.send_text(task_report_frames.ack(frame_id, refused))
        self.sent_at = time.monotonic()

    async def _next_frame(self) -> dict[str, Any]:
        """The next frame, a JSON object within the rate; FrameError otherwise."""
        received = await self.websocket.receive()
        if received["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(received.get("code", 1000))
        if not self.frames.take():
            raise FrameError(CLOSE_POLICY, f"more than {FRAMES_PER_SECOND:g} frames a second")
        raw = received.get("text")
        if raw is None:
            raw = received.get("bytes") or b""
        self.frame_may_hold_nul = ("\\u0000" if isinstance(raw, str) else b"\\u0000") in raw
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise FrameError(CLOSE_UNSUPPORTED_DATA, "a frame that is not JSON") from None
        if not isinstance(message, dict):
            raise FrameError(CLOSE_UNSUPPORTED_DATA, "a frame that is not a JSON object")
        task_arn = message.get("taskArn")
        if isinstance(task_arn, str) and "\x00" in task_arn:
            # No ARN holds one, and PostgreSQL cannot even compare one: refused on both stores.
            raise FrameError(CLOSE_UNSUPPORTED_DATA, "a malformed frame (a task ARN with a NUL character)")
        return message

    def _health(self, ctx: RequestContext, message: dict[str, Any]) -> None:
        task = _task_of(ctx, self.instance_id, str(message.get("taskArn", "")))
        containers = message.get("containers", [])
        if not isinstance(containers, list) or not all(isinstance(c, dict) for c in containers):
            raise TypeError("containers must be a list of objects")
        if not all(c.get("healthStatus", "UNKNOWN") in _HEALTH_STATUSES for c in containers):
            raise ValueError(f"a health status is not one of {sorted(_HEALTH_STATUSES)}")
        if task is not None:
            health = {str(c.get("containerName")): c.get("healthStatus", "UNKNOWN") for c in containers}
            task_reports.record_health(ctx, task, health)


_HEALTH_STATUSES = frozenset({"HEALTHY", "UNHEALTHY", "UNKNOWN"})


def _task_of(ctx: RequestContext, instance_id: int, task_arn: str) -> Any:
    return ctx.conn.execute(
        select(tasks_table)
        .where(tasks_table.c.arn == task_arn, tasks_table.c.container_instance_id == instance_id)
        .with_for_update()  # its health is written from what is read here
    ).first()
