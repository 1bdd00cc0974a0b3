"""Agent frames fuzzed against a real server over a real WebSocket (issue 10, items 4 and 8).

An instance's socket sends frames drawn by Hypothesis: well-formed ones of every type, wrong
types in every member, JSON that is not an object, text that is not JSON, binary garbage, one
frame over the 1 MiB cap, and frames naming the tasks of another instance and of another
account, in any order. After each frame the socket either goes on (a log line sent behind it
is stored: every frame before it was handled) or is closed with a close code, and then:

- a refused frame (the socket closed) changed nothing in the store, in either account;
- an accepted one changed only the rows of the sender's own instance and task;
- the server never logs a traceback; another agent's socket and the API keep working.

Columns the channel writes for any connection opening or closing (signs of life, placement
versions) are not compared. Bounded for CI; ``FUZZ_EXAMPLES`` raises it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from dockyard.store.db import make_engine
from dockyard.store.schema import container_logs
from tests.agent_channel.test_endpoint import agent_socket
from tests.builders import register_instance
from tests.harness import Credentials, DockyardServer, account_state, wait_for

EXAMPLES = max(10, int(os.environ.get("FUZZ_EXAMPLES", "150")) // 5)  # a connection costs ~10 requests
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Written for any connection, whatever its frames: not what a frame may change.
VOLATILE = frozenset({"last_seen_at", "disconnected_at", "placement_version"})
CLOSE_CODES = {1003, 1008, 1009}  # unsupported data, policy (rate), too big
OVERSIZED = "\0oversized"  # stands for a frame over the 1 MiB cap (built when sent)

ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
# "@own" and the like are replaced by the fixture's ARNs when the frame is sent.
TASK = st.sampled_from(["@own", "@neighbour", "@stranger", "arn\x00"]) | st.text(max_size=30) | ANY_JSON
NAME = st.sampled_from(["a", "b", "invented"]) | ANY_JSON
HEALTH = st.fixed_dictionaries(
    {"type": st.just("health")},
    optional={
        "taskArn": TASK,
        "containers": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "containerName": NAME,
                    "healthStatus": st.sampled_from(["HEALTHY", "UNHEALTHY", "UNKNOWN"]) | ANY_JSON,
                },
            ),
            max_size=3,
        )
        | ANY_JSON,
    },
)
LINE = st.tuples(st.floats(allow_nan=False, allow_infinity=False) | ANY_JSON, st.text(max_size=40) | ANY_JSON)
LOGS = st.fixed_dictionaries(
    {"type": st.just("logs")},
    optional={
        "taskArn": TASK,
        "containerName": NAME,
        "lines": st.lists(LINE.map(list), max_size=4) | ANY_JSON,
    },
)
AGENT_UPDATE = st.fixed_dictionaries(
    {"type": st.just("agentUpdate")},
    optional={"status": st.sampled_from(["STAGING", "STAGED", "UPDATING", "FAILED", "UPDATED"]) | ANY_JSON},
)
OTHER = st.fixed_dictionaries({"type": st.text(max_size=12) | ANY_JSON}, optional={"taskArn": TASK})
OBJECTS = st.one_of(HEALTH, LOGS, AGENT_UPDATE, st.just({"type": "heartbeat"}), OTHER)
FRAME = st.one_of(
    OBJECTS,
    OBJECTS,
    OBJECTS,
    ANY_JSON.filter(lambda value: not isinstance(value, dict)).map(json.dumps),  # not an object
    st.text(max_size=60),  # mostly not JSON
    st.binary(max_size=60),
    st.just(OVERSIZED),
)


@dataclass
class World:
    """Account A with two connected instances (the fuzzed one and a neighbour whose agent
    stays connected throughout), each running a task; account B with a task of its own."""

    account: Credentials
    stranger: Credentials
    instance: dict[str, Any]
    neighbour_socket: ClientConnection
    arns: dict[str, str]  # "@own", "@neighbour", "@stranger" -> task ARN
    engine: Engine


def _start_on(server: DockyardServer, account: Credentials, ecs: Any, instance: dict[str, Any]) -> str:
    """A task of the test's definition started on ``instance`` (its agent connected meanwhile)."""
    with agent_socket(server, account, instance):
        started = ecs.start_task(taskDefinition="fz", containerInstances=[instance["containerInstanceArn"]])
    assert started["failures"] == [], started["failures"]
    return str(started["tasks"][0]["taskArn"])


def _definition(ecs: Any) -> None:
    ecs.create_cluster()
    containers = [{"name": name, "image": "busybox", "memory": 32} for name in ("a", "b")]
    ecs.register_task_definition(family="fz", containerDefinitions=containers)


@pytest.fixture
def world(server: DockyardServer, account: Credentials, ecs: Any) -> Iterator[World]:
    _definition(ecs)
    own, neighbour = register_instance(ecs, ports=()), register_instance(ecs, ports=())
    stranger = server.new_account()
    stranger_ecs = server.client(stranger)
    _definition(stranger_ecs)
    arns = {
        "@own": _start_on(server, account, ecs, own),
        "@neighbour": _start_on(server, account, ecs, neighbour),
        "@stranger": _start_on(server, stranger, stranger_ecs, register_instance(stranger_ecs, ports=())),
    }
    engine = make_engine(server.store_url)
    with agent_socket(server, account, neighbour) as neighbour_socket:
        yield World(account, stranger, own, neighbour_socket, arns, engine)
    engine.dispose()


def _resolve(value: Any, arns: dict[str, str]) -> Any:
    if isinstance(value, str):
        return arns.get(value, value)
    if isinstance(value, dict):
        return {key: _resolve(item, arns) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, arns) for item in value]
    return value


def _wire(frame: Any, arns: dict[str, str]) -> str | bytes:
    if frame == OVERSIZED:
        return json.dumps({"type": "logs", "taskArn": arns["@own"], "lines": [[1.0, "x" * (1 << 20)]]})
    if isinstance(frame, dict):
        return json.dumps(_resolve(frame, arns))
    return frame


def _logs_frame(task_arn: str, marker: str) -> str:
    return json.dumps({"type": "logs", "taskArn": task_arn, "containerName": "a", "lines": [[1.0, marker]]})


def _stored(engine: Engine, marker: str) -> bool:
    with engine.connect() as connection:
        return (
            connection.execute(select(container_logs.c.id).where(container_logs.c.line == marker)).first()
            is not None
        )


def _settle(socket: ClientConnection, world: World, deadline: float = 30) -> int | None:
    """None once a log line sent behind the last frame is stored (the frame was handled and
    the socket goes on); the close code if the server closed the socket instead."""
    marker = f"barrier-{uuid.uuid4()}"
    with contextlib.suppress(ConnectionClosed):  # closed by the frame before: seen below
        socket.send(_logs_frame(world.arns["@own"], marker))
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        if _stored(world.engine, marker):
            return None
        try:
            socket.recv(timeout=0.05)  # a state frame or a heartbeat: the server's, ignored
        except TimeoutError:
            continue
        except ConnectionClosed as closed:
            received = closed.rcvd
            return received.code if received is not None else -1
    raise AssertionError("the server neither handled the frame nor closed the socket")


def _snapshot(world: World) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    def own_state(account: Credentials) -> dict[str, list[str]]:
        state = account_state(world.engine, account.account_id, VOLATILE)
        # The barriers' own lines are the test's, not the frames'.
        state["container_logs"] = [row for row in state["container_logs"] if "barrier-" not in row]
        return state

    return own_state(world.account), own_state(world.stranger)


def _foreign_changes(before: dict[str, list[str]], after: dict[str, list[str]], world: World) -> list[str]:
    """Rows of account A that changed and are not the fuzzed instance's or its task's."""
    own_task = world.arns["@own"]
    own = {
        "tasks": ("arn", own_task),
        "container_instances": ("arn", world.instance["containerInstanceArn"]),
        "container_logs": ("task_id", own_task.rsplit("/", 1)[-1]),
    }
    foreign = []
    for table, rows in before.items():
        for row in set(rows) ^ set(after[table]):
            member, value = own.get(table, ("", None))
            if json.loads(row).get(member) != value:
                foreign.append(f"{table}: {row}")
    return foreign


@FUZZ
@given(frames=st.lists(FRAME, min_size=1, max_size=3))
def test_no_frame_crashes_the_server_or_changes_what_it_may_not(
    server: DockyardServer, world: World, ecs: Any, frames: list[Any]
) -> None:
    with agent_socket(server, world.account, world.instance) as socket:
        for frame in frames:
            before, stranger_before = _snapshot(world)
            with contextlib.suppress(ConnectionClosed):  # closed by the frame before
                socket.send(_wire(frame, world.arns))
            code = _settle(socket, world)
            after, stranger_after = _snapshot(world)
            assert stranger_after == stranger_before, (frame, "another account's rows changed")
            if code is not None:
                event(f"closed {code}")
                # Past the cap the server closes (1009) without reading the rest of the frame:
                # the reset of the unread bytes can beat its close frame to the client.
                assert code in CLOSE_CODES or (frame == OVERSIZED and code == -1), (frame, code)
                assert after == before, (frame, "a refused frame changed the store")
                break
            event("handled")
            assert not _foreign_changes(before, after, world), (frame, _foreign_changes(before, after, world))
    # The neighbour's agent is still heard (its log line is stored) and the API answers.
    marker = f"barrier-{uuid.uuid4()}"
    world.neighbour_socket.send(_logs_frame(world.arns["@neighbour"], marker))
    wait_for(lambda: _stored(world.engine, marker), timeout=30, interval=0.02, message="for the neighbour")
    with pytest.raises(TimeoutError):
        while True:  # drain what the server sent the neighbour meanwhile
            world.neighbour_socket.recv(timeout=0)
    described = ecs.describe_tasks(tasks=[world.arns["@own"], world.arns["@neighbour"]])
    assert len(described["tasks"]) == 2
    # What an agent reports is held to ECS's values: container health is one of its three,
    # and no update status appears on an instance no update was asked of.
    healths = {c.get("healthStatus", "UNKNOWN") for t in described["tasks"] for c in t["containers"]}
    assert healths <= {"HEALTHY", "UNHEALTHY", "UNKNOWN"}, healths
    (instance,) = ecs.describe_container_instances(
        containerInstances=[world.instance["containerInstanceArn"]]
    )["containerInstances"]
    assert "agentUpdateStatus" not in instance, instance.get("agentUpdateStatus")
    assert server.process is not None and server.process.poll() is None
    assert "Traceback" not in server.log(), server.log()[-4000:]
