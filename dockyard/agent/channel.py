"""The agent's end of the WebSocket (docs/agent-protocol.md §2).

One connection at a time to ``<endpoint>ws?clusterArn=…&containerInstanceArn=…&agentVersion=…``,
its upgrade request signed with SigV4 exactly like an API call (botocore's signer over a
GET with an empty body). While connected: state frames are applied then acked (on the next
frame that goes up, a task report mostly, or alone half a second later), a heartbeat
goes up every 10 s, and a connection that stays silent for 30 s is taken for dead. Any loss
leads to a reconnect with exponential back-off (0.5 s doubling to 10 s); an HTTP 404 on the
upgrade (or a close with code 4404) means the control plane forgot this instance, which
:class:`InstanceGone` tells the caller so it can register again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import quote

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    WebSocketException,
)

from dockyard.agent.version import agent_version

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 10.0
# An applied state frame's ack waits this long for a frame to ride on (applying it starts or
# stops tasks, whose reports follow within the reporter's 0.2 s), then goes alone: a frame
# fewer up the socket per task placed, for the agent and the control plane alike.
ACK_DELAY = 0.5
IDLE_TIMEOUT = 30.0
BACKOFF_START, BACKOFF_MAX = 0.5, 10.0
MAX_OUTGOING = 2000
MAX_FRAME_BYTES = 64 * 1024 * 1024
GONE_CLOSE_CODE = 4404  # the control plane closes with it when the instance is deregistered
CLOSE_TIMEOUT = 2.0  # the close handshake at a stop; a dead server must not hold the agent
DRAIN_SECONDS = 2.0  # at a stop, how long queued frames (last logs, reports) may take to go out


class InstanceGone(Exception):
    """The control plane does not know our container instance (any more)."""


def ws_url(
    endpoint: str,
    cluster_arn: str,
    instance_arn: str,
    version: str | None = None,
    *,
    device_key: bool = False,
) -> str:
    """The WebSocket URL for a poll endpoint base URL (http → ws, https → wss). With
    ``device_key`` the control plane first sends the key the instance's thing runs its IoT
    job executions with."""
    base = endpoint if endpoint.endswith("/") else endpoint + "/"
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    query = "&".join(
        f"{key}={quote(value, safe='')}"
        for key, value in (
            ("clusterArn", cluster_arn),
            ("containerInstanceArn", instance_arn),
            ("agentVersion", version or agent_version()),
            ("stateDeltas", "1"),  # after the first, frames carry only what changed
        )
    )
    if device_key:
        query += "&deviceKey=1"
    return f"{base}ws?{query}"


def signed_headers(url: str, credentials: Credentials, region: str) -> dict[str, str]:
    """SigV4 headers for the upgrade GET of ``url`` (service ``ecs``, empty payload).

    Host is signed but not returned: the WebSocket client sends the same Host itself."""
    http_url = "http" + url[2:] if url.startswith("ws") else url
    request = AWSRequest(method="GET", url=http_url, data=b"")
    SigV4Auth(credentials, "ecs", region).add_auth(request)
    return {name: value for name, value in request.headers.items() if name.lower() != "host"}


class DesiredState:
    """The instance's full desired state as one connection's frames build it: a full frame
    replaces it, a delta (``since`` the previous frame) updates and removes entries."""

    def __init__(self) -> None:
        self.version: Any = None
        self.tasks: dict[str, Any] = {}

    def apply(self, frame: dict[str, Any]) -> dict[str, Any] | None:
        """The full frame ``frame`` amounts to; None for a delta on another base."""
        entries = [t for t in frame.get("tasks") or () if isinstance(t, dict)]
        if "since" in frame:
            if self.version is None or frame["since"] != self.version:
                return None
            for arn in frame.get("removed") or ():
                self.tasks.pop(arn, None)
        else:
            self.tasks = {}
        self.tasks.update((str(entry.get("taskArn")), entry) for entry in entries)
        self.version = frame.get("version")
        full = {key: value for key, value in frame.items() if key not in ("since", "removed")}
        full["tasks"] = list(self.tasks.values())
        return full


class Channel:
    """Keeps one live WebSocket to the control plane and reconnects when it breaks."""

    def __init__(
        self,
        *,
        credentials: Callable[[], Any],
        region: str,
        on_state: Callable[[dict[str, Any]], Awaitable[None]],
        on_connect: Callable[[], list[dict[str, Any]]] = list,
        on_device_key: Callable[[dict[str, Any]], None] = lambda frame: None,
        on_load_image: Callable[[dict[str, Any]], None] = lambda frame: None,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        idle_timeout: float = IDLE_TIMEOUT,
        opening: Callable[[], AbstractAsyncContextManager[Any]] = contextlib.nullcontext,
    ) -> None:
        self.credentials, self.region = credentials, region
        self.opening = opening  # held while a connection opens (hollow fleets bound their handshakes)
        self.on_state, self.on_connect, self.on_device_key = on_state, on_connect, on_device_key
        self.on_load_image = on_load_image  # a Glance image pushed to this host (agent/images.py)
        self.heartbeat_interval, self.idle_timeout = heartbeat_interval, idle_timeout
        self.connected = False
        self.connections = 0
        # Frames for the live connection, each with the future of a caller waiting for it.
        self._outgoing: deque[tuple[dict[str, Any], asyncio.Future[bool] | None]] = deque()
        self._pending = asyncio.Event()
        self._idle = asyncio.Event()  # set while nothing waits to be written
        self._idle.set()
        self._state = DesiredState()
        self._unacked: Any = None  # the version of the last state frame applied, not yet acked
        self._ack_timer: asyncio.TimerHandle | None = None
        # Frame type -> a callback, for the other frames the control plane sends (e.g. the
        # reporter's acks, dockyard/agent/reporter.py).
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {}

    def send(self, frame: dict[str, Any]) -> bool:
        """Queue a frame for the live connection; False (dropped) while disconnected."""
        return self._queue(frame, None)

    async def deliver(self, frame: dict[str, Any]) -> bool:
        """Queue a frame and wait until it is written to the socket: True, or False if the
        connection went away first (the caller keeps what it wanted to say)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if not self._queue(frame, future):
            return False
        return await future

    def _queue(self, frame: dict[str, Any], future: asyncio.Future[bool] | None) -> bool:
        if not self.connected:
            return False
        if len(self._outgoing) >= MAX_OUTGOING:  # a stalled socket: the oldest frame gives way
            _, dropped = self._outgoing.popleft()
            if dropped is not None and not dropped.done():
                dropped.set_result(False)
        self._outgoing.append((frame, future))
        self._idle.clear()
        self._pending.set()
        return True

    def _forget_outgoing(self) -> None:
        """The connection is gone: what it did not write is answered False and dropped."""
        while self._outgoing:
            _, future = self._outgoing.popleft()
            if future is not None and not future.done():
                future.set_result(False)
        self._idle.set()

    async def run(self, url: str, stop: asyncio.Event) -> None:
        """Stay connected to ``url`` until ``stop`` is set; raises InstanceGone."""
        delay = BACKOFF_START
        while not stop.is_set():
            try:
                async with self.opening():
                    ws = await connect(
                        url,
                        additional_headers=signed_headers(url, self.credentials(), self.region),
                        open_timeout=10,
                        close_timeout=CLOSE_TIMEOUT,
                        max_size=MAX_FRAME_BYTES,
                        user_agent_header=f"dockyard-agent/{agent_version()}",
                        # The heartbeat frames are the keepalive; frames are not worth deflating
                        # (a busy instance's frames are large, and the server would pay for each).
                        ping_interval=None,
                        compression=None,
                    )
                async with ws:
                    delay = BACKOFF_START
                    await self._session(ws, stop)
            except ConnectionClosed as error:
                if error.rcvd is not None and error.rcvd.code == GONE_CLOSE_CODE:
                    raise InstanceGone(
                        f"the control plane closed the channel: {error.rcvd.reason or 'instance gone'}"
                    ) from error
                log.warning("WebSocket to the control plane closed: %s", error)
            except InvalidStatus as error:
                status = error.response.status_code
                if status == 404:
                    raise InstanceGone(f"the control plane answered 404 to {url}") from error
                log.warning(
                    "WebSocket upgrade refused with HTTP %s: %s",
                    status,
                    error.response.body[:200] if error.response.body else b"",
                )
            except (OSError, TimeoutError, InvalidHandshake, WebSocketException) as error:
                log.warning("WebSocket to the control plane lost: %r", error)
            finally:
                self.connected = False
                self._forget_outgoing()
            if stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _session(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        self.connections += 1
        self._forget_outgoing()
        self._state = DesiredState()  # a connection's first frame is the full state
        self._unacked = None
        self.connected = True
        log.info("connected to the control plane")
        for frame in self.on_connect():
            self.send(frame)
        writer = asyncio.create_task(self._write(ws))
        jobs = [writer] + [
            asyncio.create_task(job) for job in (self._read(ws), self._heartbeat(), stop.wait())
        ]
        try:
            done, _ = await asyncio.wait(jobs, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set() and not writer.done():  # what is queued still goes out
                self.connected = False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._idle.wait(), DRAIN_SECONDS)
        finally:
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
        self.connected = False
        for job in done:
            if not job.cancelled() and job.exception() is not None:
                raise job.exception()  # type: ignore[misc]

    async def _read(self, ws: ClientConnection) -> None:
        while True:
            try:
                message = await asyncio.wait_for(ws.recv(), self.idle_timeout)
            except TimeoutError:
                raise TimeoutError(f"nothing from the control plane for {self.idle_timeout:g}s") from None
            try:
                frame = orjson.loads(message)  # a busy instance's frames are large
            except ValueError:
                log.warning("ignoring a frame that is not JSON")
                continue
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind == "state":
                full = self._state.apply(frame)
                if full is None:
                    raise WebSocketException(
                        f"state frame {frame.get('version')} is a delta since {frame.get('since')}, "
                        f"not since the {self._state.version} this connection applied"
                    )
                try:
                    await self.on_state(full)
                except Exception:  # a bug must not cost the connection; the next frame retries
                    log.exception("applying state frame %s failed", frame.get("version"))
                    continue
                self._acknowledge(frame.get("version"))
            elif kind == "deviceKey":
                self.on_device_key(frame)
            elif kind == "loadImage":
                self.on_load_image(frame)
            elif isinstance(kind, str) and kind in self.handlers:
                self.handlers[kind](frame)
            elif kind != "heartbeat":
                log.debug("ignoring a frame of type %r", kind)

    def _acknowledge(self, version: Any) -> None:
        self._unacked = version
        if self._ack_timer is None:
            self._ack_timer = asyncio.get_running_loop().call_later(ACK_DELAY, self._ack_alone)

    def _ack_alone(self) -> None:
        self._ack_timer = None
        if self._unacked is not None:
            self.send({"type": "ack", "version": self._unacked})

    def _with_ack(self, frame: dict[str, Any]) -> dict[str, Any]:
        """The frame as written: with the pending ack, if any (an ack frame names it itself)."""
        version, self._unacked = self._unacked, None
        if version is None:
            return frame
        if frame.get("type") == "ack":
            return {"type": "ack", "version": version}
        return {**frame, "ack": version}

    async def _write(self, ws: ClientConnection) -> None:
        while True:
            await self._pending.wait()
            self._pending.clear()
            while self._outgoing:
                frame, future = self._outgoing[0]
                await ws.send(json.dumps(self._with_ack(frame)))
                # Taken off only once written: a frame the connection lost is answered False.
                if self._outgoing and self._outgoing[0][0] is frame:
                    self._outgoing.popleft()
                if future is not None and not future.done():
                    future.set_result(True)
            self._idle.set()

    async def _heartbeat(self) -> None:
        while True:
            self.send({"type": "heartbeat"})
            await asyncio.sleep(self.heartbeat_interval)
