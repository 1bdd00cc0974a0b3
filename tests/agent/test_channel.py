"""The agent's WebSocket client against a small websockets server that checks its signature
with Dockyard's own SigV4 verifier."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.credentials import Credentials
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from dockyard.agent.channel import Channel, DesiredState, InstanceGone, signed_headers, ws_url
from dockyard.errors import ApiError
from dockyard.identity.sigv4 import check_clock, parse_authorization, verify_signature

KEY = Credentials("AKIDAGENTTEST", "agent-test-secret")
CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/default"
INSTANCE = "arn:aws:ecs:us-east-1:000000000000:container-instance/default/abc"


def verified(request: Request) -> str | None:
    """None when the upgrade is correctly signed by KEY, else why not."""
    headers = {name.lower(): value for name, value in request.headers.raw_items()}
    parts = urlsplit(request.path)
    try:
        signed = parse_authorization(headers)
        check_clock(signed)
        verify_signature(
            signed,
            KEY.secret_key,
            method="GET",
            path=parts.path,
            query=parts.query,
            headers=headers,
            body=b"",
        )
    except ApiError as error:
        return error.message
    if (signed.service, signed.region) != ("ecs", "us-east-1"):
        return "wrong scope"
    return None


class FakeControlPlane:
    """Accepts signed upgrades, sends what a test queues, records what the agent sends."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.connections = 0
        self.refuse_with: int | None = None
        self.on_connect: Callable[[ServerConnection], Awaitable[None]] | None = None
        self.rejected: list[str] = []

    def check(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.refuse_with is not None:
            return connection.respond(self.refuse_with, "no\n")
        problem = verified(request)
        if problem is not None:
            self.rejected.append(problem)
            return Response(403, "Forbidden", Headers(), problem.encode())
        query = urlsplit(request.path).query
        assert f"containerInstanceArn={INSTANCE.replace(':', '%3A').replace('/', '%2F')}" in query
        return None

    async def handler(self, connection: ServerConnection) -> None:
        self.connections += 1
        if self.on_connect is not None:
            await self.on_connect(connection)
        async for message in connection:
            self.received.append(json.loads(message))


async def until(probe: Callable[[], Any], timeout: float = 120) -> Any:
    for _ in range(int(timeout / 0.02)):
        if value := probe():
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {probe}")


def channel(states: list[dict[str, Any]], key: Credentials = KEY, **options: Any) -> Channel:
    async def on_state(frame: dict[str, Any]) -> None:
        states.append(frame)

    return Channel(credentials=lambda: key, region="us-east-1", on_state=on_state, **options)


def run_against(plane: FakeControlPlane, scenario: Callable[[str], Awaitable[None]]) -> None:
    async def main() -> None:
        async with serve(plane.handler, "127.0.0.1", 0, process_request=plane.check) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            await scenario(ws_url(f"http://127.0.0.1:{port}/", CLUSTER, INSTANCE))

    asyncio.run(main())


def acked(received: list[dict[str, Any]], version: int) -> bool:
    """An ack of ``version`` went up: alone, or on another frame."""
    return any(f == {"type": "ack", "version": version} or f.get("ack") == version for f in received)


def test_an_ack_rides_on_the_next_frame_that_goes_up_or_goes_alone() -> None:
    plane, states = FakeControlPlane(), list[dict[str, Any]]()
    turns = asyncio.Queue[int]()

    async def push(connection: ServerConnection) -> None:
        async def frames() -> None:
            while True:
                version = await turns.get()
                since = {} if version == 7 else {"since": version - 1}
                await connection.send(json.dumps({"type": "state", "version": version, "tasks": [], **since}))

        asyncio.get_running_loop().create_task(frames())

    plane.on_connect = push

    async def scenario(url: str) -> None:
        stop = asyncio.Event()
        client = channel(states, heartbeat_interval=3600.0)  # one heartbeat, at the start
        running = asyncio.create_task(client.run(url, stop))
        turns.put_nowait(7)
        await until(lambda: acked(plane.received, 7))
        # A frame that goes up right after a state frame is applied carries its ack.
        turns.put_nowait(8)
        await until(lambda: states and states[-1]["version"] == 8)
        assert client.send({"type": "logs", "taskArn": "t", "containerName": "c", "lines": []})
        logs = await until(lambda: next((f for f in plane.received if f["type"] == "logs"), None))
        assert logs["ack"] == 8
        assert {"type": "ack", "version": 8} not in plane.received
        # With nothing to ride on, it goes alone.
        turns.put_nowait(9)
        await until(lambda: {"type": "ack", "version": 9} in plane.received)
        stop.set()
        await asyncio.wait_for(running, 60)

    run_against(plane, scenario)
    assert [frame["version"] for frame in states] == [7, 8, 9]
    assert plane.rejected == []


def test_the_ws_url_carries_the_instance_and_version() -> None:
    url = ws_url("https://plane.example:5566/", CLUSTER, INSTANCE, "1.2.3")
    assert url.startswith("wss://plane.example:5566/ws?clusterArn=arn%3Aaws%3Aecs")
    assert url.endswith("&agentVersion=1.2.3&stateDeltas=1")
    assert ws_url("http://h:1", CLUSTER, INSTANCE).startswith("ws://h:1/ws?")


def test_signed_headers_leave_host_to_the_client() -> None:
    headers = signed_headers("ws://h:1/ws?a=b", KEY, "us-east-1")
    assert set(headers) == {"X-Amz-Date", "Authorization"}
    assert "SignedHeaders=host;x-amz-date" in headers["Authorization"]
    assert "/us-east-1/ecs/aws4_request" in headers["Authorization"]


def test_state_frames_are_applied_and_acked_and_heartbeats_flow() -> None:
    plane, states = FakeControlPlane(), list[dict[str, Any]]()

    async def push(connection: ServerConnection) -> None:
        await connection.send(json.dumps({"type": "heartbeat"}))
        await connection.send(json.dumps({"type": "state", "version": 7, "tasks": []}))

    plane.on_connect = push

    async def scenario(url: str) -> None:
        stop = asyncio.Event()
        client = channel(states, heartbeat_interval=0.1)
        running = asyncio.create_task(client.run(url, stop))
        await until(lambda: acked(plane.received, 7))
        await until(lambda: sum(f["type"] == "heartbeat" for f in plane.received) >= 2)
        assert client.send({"type": "logs", "taskArn": "t", "containerName": "c", "lines": []})
        await until(lambda: any(f["type"] == "logs" for f in plane.received))
        stop.set()
        await asyncio.wait_for(running, 60)
        assert not client.connected and not client.send({"type": "heartbeat"})

    run_against(plane, scenario)
    assert [frame["version"] for frame in states] == [7]
    assert plane.rejected == []


def test_a_wrong_secret_is_refused_and_retried() -> None:
    plane, states = FakeControlPlane(), list[dict[str, Any]]()

    async def scenario(url: str) -> None:
        stop = asyncio.Event()
        client = channel(states, key=Credentials(KEY.access_key, "not-the-secret"))
        running = asyncio.create_task(client.run(url, stop))
        await until(lambda: len(plane.rejected) >= 2)  # refused, then tried again after back-off
        stop.set()
        await asyncio.wait_for(running, 60)

    run_against(plane, scenario)
    assert plane.connections == 0 and "does not match" in plane.rejected[0]


def test_a_dropped_connection_is_reopened_with_a_fresh_state() -> None:
    plane, states = FakeControlPlane(), list[dict[str, Any]]()

    async def push_then_drop(connection: ServerConnection) -> None:
        await connection.send(json.dumps({"type": "state", "version": plane.connections, "tasks": []}))
        if plane.connections == 1:
            await connection.close()

    plane.on_connect = push_then_drop

    async def scenario(url: str) -> None:
        stop = asyncio.Event()
        client = channel(states)
        running = asyncio.create_task(client.run(url, stop))
        await until(lambda: len(states) >= 2)
        stop.set()
        await asyncio.wait_for(running, 60)
        assert client.connections == 2

    run_against(plane, scenario)
    assert [frame["version"] for frame in states] == [1, 2]


def test_a_silent_control_plane_is_taken_for_dead() -> None:
    plane, states = FakeControlPlane(), list[dict[str, Any]]()

    async def scenario(url: str) -> None:
        stop = asyncio.Event()
        client = channel(states, idle_timeout=0.3)
        running = asyncio.create_task(client.run(url, stop))
        await until(lambda: client.connections >= 2, timeout=120)
        stop.set()
        await asyncio.wait_for(running, 60)

    run_against(plane, scenario)


@pytest.mark.parametrize("how", ["404 on the upgrade", "close code 4404"])
def test_a_forgotten_instance_is_announced(how: str) -> None:
    plane, states = FakeControlPlane(), list[dict[str, Any]]()
    if how.startswith("404"):
        plane.refuse_with = 404
    else:

        async def close(connection: ServerConnection) -> None:
            await connection.close(4404, "instance deregistered")

        plane.on_connect = close

    async def scenario(url: str) -> None:
        with pytest.raises(InstanceGone):
            await asyncio.wait_for(channel(states).run(url, asyncio.Event()), 60)

    run_against(plane, scenario)


def test_connect_frames_go_first() -> None:
    plane, states = FakeControlPlane(), list[dict[str, Any]]()
    health = {"type": "health", "taskArn": "t", "containers": []}

    async def scenario(url: str) -> None:
        stop = asyncio.Event()
        client = channel(states, on_connect=lambda: [health])
        running = asyncio.create_task(client.run(url, stop))
        await until(lambda: plane.received)
        stop.set()
        await asyncio.wait_for(running, 60)

    run_against(plane, scenario)
    assert plane.received[0] == health


def test_delivery_is_confirmed_once_written_and_refused_while_down() -> None:
    plane, states = FakeControlPlane(), list[dict[str, Any]]()
    frame = {"type": "logs", "taskArn": "t", "containerName": "c", "lines": [[1.0, "x"]]}

    async def scenario(url: str) -> None:
        stop = asyncio.Event()
        client = channel(states)
        assert await client.deliver(frame) is False  # not connected yet: the caller keeps it
        running = asyncio.create_task(client.run(url, stop))
        await until(lambda: client.connected)
        assert await client.deliver(frame) is True
        await until(lambda: frame in plane.received)
        stop.set()
        await asyncio.wait_for(running, 60)

    run_against(plane, scenario)


def test_frames_queued_at_a_stop_still_go_out() -> None:
    plane, states = FakeControlPlane(), list[dict[str, Any]]()
    last = [
        {"type": "logs", "taskArn": "t", "containerName": "c", "lines": [[float(n), str(n)]]}
        for n in range(50)
    ]

    async def scenario(url: str) -> None:
        stop = asyncio.Event()
        client = channel(states)
        running = asyncio.create_task(client.run(url, stop))
        await until(lambda: client.connected)
        for frame in last:
            client.send(frame)
        stop.set()
        await asyncio.wait_for(running, 60)

    run_against(plane, scenario)
    assert [f for f in plane.received if f["type"] == "logs"] == last


def test_frames_a_lost_connection_did_not_write_are_answered_false() -> None:
    plane, states = FakeControlPlane(), list[dict[str, Any]]()

    async def scenario(url: str) -> None:
        stop = asyncio.Event()
        client = channel(states)
        running = asyncio.create_task(client.run(url, stop))
        await until(lambda: client.connected)
        client._pending.set = lambda: None  # type: ignore[method-assign]  # the writer stalls
        waiting = asyncio.create_task(client.deliver({"type": "logs", "lines": []}))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        for connection in list(plane_connections):
            await connection.close()
        assert await asyncio.wait_for(waiting, 60) is False
        stop.set()
        await asyncio.wait_for(running, 60)

    plane_connections: list[ServerConnection] = []

    async def remember(connection: ServerConnection) -> None:
        plane_connections.append(connection)

    plane.on_connect = remember
    run_against(plane, scenario)


def entry(arn: str, desired: str = "RUNNING") -> dict[str, Any]:
    return {"taskArn": arn, "desiredStatus": desired}


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        pytest.param(
            [{"version": 1, "tasks": [entry("a"), entry("b")]}],
            {"a": "RUNNING", "b": "RUNNING"},
            id="a full frame is the state",
        ),
        pytest.param(
            [
                {"version": 1, "tasks": [entry("a"), entry("b")]},
                {"version": 4, "since": 1, "tasks": [entry("b", "STOPPED"), entry("c")], "removed": []},
            ],
            {"a": "RUNNING", "b": "STOPPED", "c": "RUNNING"},
            id="a delta changes and adds entries",
        ),
        pytest.param(
            [
                {"version": 1, "tasks": [entry("a"), entry("b")]},
                {"version": 2, "since": 1, "tasks": [], "removed": ["a"]},
            ],
            {"b": "RUNNING"},
            id="a delta removes the tasks that left",
        ),
        pytest.param(
            [
                {"version": 1, "tasks": [entry("a")]},
                {"version": 2, "since": 1, "tasks": [entry("b")], "removed": []},
                {"version": 3, "tasks": [entry("c")]},
            ],
            {"c": "RUNNING"},
            id="a full frame replaces everything",
        ),
    ],
)
def test_deltas_build_the_full_state(frames: list[dict[str, Any]], expected: dict[str, str]) -> None:
    state = DesiredState()
    for frame in frames:
        full = state.apply({"type": "state", **frame})
        assert full is not None and "since" not in full and "removed" not in full
        assert full["version"] == frame["version"]
    assert {task["taskArn"]: task["desiredStatus"] for task in full["tasks"]} == expected


@pytest.mark.parametrize("since", [None, 3], ids=["no full frame first", "another base"])
def test_a_delta_on_another_base_is_refused(since: int | None) -> None:
    state = DesiredState()
    if since is not None:
        assert state.apply({"type": "state", "version": 1, "tasks": []}) is not None
    assert state.apply({"type": "state", "version": 5, "since": since or 4, "tasks": []}) is None


def test_a_delta_the_agent_cannot_place_reopens_the_connection() -> None:
    plane, states = FakeControlPlane(), list[dict[str, Any]]()

    async def push(connection: ServerConnection) -> None:
        number = plane.connections
        await connection.send(json.dumps({"type": "state", "version": 10 * number, "tasks": [entry("a")]}))
        if number == 1:  # a delta on a version this connection never sent
            await connection.send(
                json.dumps({"type": "state", "version": 12, "since": 11, "tasks": [], "removed": ["a"]})
            )

    plane.on_connect = push

    async def scenario(url: str) -> None:
        stop = asyncio.Event()
        client = channel(states)
        running = asyncio.create_task(client.run(url, stop))
        await until(lambda: len(states) >= 2)
        stop.set()
        await asyncio.wait_for(running, 60)
        assert client.connections == 2

    run_against(plane, scenario)
    assert [(frame["version"], len(frame["tasks"])) for frame in states] == [(10, 1), (20, 1)]
