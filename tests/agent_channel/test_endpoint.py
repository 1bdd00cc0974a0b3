"""The agent socket as an untrusted peer sees it: malformed frames, floods, revoked keys,
second connections and invented container names (issue 10, item 4)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from dockyard.agent.channel import signed_headers, ws_url
from dockyard.identity import keys
from dockyard.store.db import make_engine, transaction
from dockyard.store.schema import container_instances
from tests.builders import container, register_instance
from tests.harness import Credentials, DockyardServer, wait_for


@pytest.fixture
def instance(ecs: Any) -> dict[str, Any]:
    ecs.create_cluster()
    return register_instance(ecs, ports=())


@contextmanager
def agent_socket(
    server: DockyardServer, account: Credentials, instance: dict[str, Any]
) -> Iterator[ClientConnection]:
    url = ws_url(server.endpoint, "default", instance["containerInstanceArn"])
    credentials = BotoCredentials(account.access_key_id, account.secret_access_key)
    with connect(
        url, additional_headers=signed_headers(url, credentials, "us-east-1"), open_timeout=60
    ) as socket:
        socket.recv(timeout=60)  # the first desired state
        yield socket


def close_code(socket: ClientConnection) -> int | None:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            socket.recv(timeout=30)
    received = closed.value.rcvd
    return received.code if received is not None else None


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param("{not json", id="not JSON"),
        pytest.param("[1, 2]", id="a JSON array"),
        pytest.param(b"\x00\xff", id="binary garbage"),
        pytest.param(
            '{"type": "logs", "taskArn": "x", "containerName": "a", "lines": 7}', id="bad log lines"
        ),
        pytest.param('{"type": "health", "taskArn": "x", "containers": "all"}', id="bad health"),
        pytest.param(
            '{"type": "health", "taskArn": "x", "containers": [{"healthStatus": "GREAT"}]}',
            id="an invented health status",
        ),
        pytest.param('{"type": "logs", "taskArn": "\\u0000", "lines": []}', id="a NUL in a task ARN"),
        pytest.param(
            '{"type": "imageLoad", "imageId": 7, "status": "loaded"}', id="an image load of no image"
        ),
        pytest.param(
            '{"type": "imageLoad", "imageId": "x", "status": "done"}', id="an invented image load status"
        ),
    ],
)
def test_a_malformed_frame_closes_with_a_code_and_one_log_line(
    server: DockyardServer, account: Credentials, instance: dict[str, Any], frame: str | bytes
) -> None:
    with agent_socket(server, account, instance) as socket:
        socket.send(frame)
        assert close_code(socket) == 1003
    arn = instance["containerInstanceArn"]
    wait_for(lambda: arn in server.log(), message="for the log line")
    lines = [line for line in server.log().splitlines() if arn in line]
    assert len(lines) == 1, lines
    assert any(words in lines[0] for words in ("malformed", "not JSON", "not a JSON object")), lines
    assert "Traceback" not in server.log()


def test_a_flood_of_frames_closes_the_socket(
    server: DockyardServer, account: Credentials, instance: dict[str, Any]
) -> None:
    with agent_socket(server, account, instance) as socket:
        with pytest.raises(ConnectionClosed):
            for _ in range(5000):
                socket.send('{"type": "heartbeat"}')
        assert close_code(socket) == 1008


def test_a_frame_over_one_mebibyte_closes_the_socket(
    server: DockyardServer, account: Credentials, instance: dict[str, Any]
) -> None:
    with agent_socket(server, account, instance) as socket:
        socket.send(json.dumps({"type": "logs", "lines": [[1.0, "x" * (1024 * 1024)]]}))
        assert close_code(socket) == 1009


def _last_seen(server: DockyardServer, arn: str) -> float | None:
    engine = make_engine(server.store_url)
    try:
        with transaction(engine, write=False) as connection:
            return connection.execute(
                select(container_instances.c.last_seen_at).where(container_instances.c.arn == arn)
            ).scalar()
    finally:
        engine.dispose()


def test_a_second_connection_never_disconnects_the_live_one(
    server: DockyardServer, account: Credentials, instance: dict[str, Any], ecs: Any
) -> None:
    arn = instance["containerInstanceArn"]
    with agent_socket(server, account, instance) as live:
        with agent_socket(server, account, instance):
            pass
        closed_at = time.time()

        def live_is_seen_after_the_close() -> bool:
            live.send('{"type": "heartbeat"}')
            seen = _last_seen(server, arn)
            return seen is not None and seen > closed_at

        wait_for(live_is_seen_after_the_close, message="for the live agent's signs of life")
        described = ecs.describe_container_instances(containerInstances=[arn])["containerInstances"][0]
        assert described["agentConnected"] is True
        ecs.register_task_definition(family="after", containerDefinitions=[container()])
        assert ecs.run_task(taskDefinition="after")["failures"] == []


def test_revoking_a_key_closes_its_sockets_and_the_instance_stops_taking_tasks(
    server: DockyardServer, account: Credentials, instance: dict[str, Any], ecs: Any
) -> None:
    agent_key = server.new_account(account.account_id, user_name="agent")
    arn = instance["containerInstanceArn"]
    with agent_socket(server, agent_key, instance) as socket:
        engine = make_engine(server.store_url)
        try:
            with transaction(engine) as connection:
                keys.revoke_key(connection, agent_key.access_key_id)
        finally:
            engine.dispose()
        revoked_at = time.monotonic()
        assert close_code(socket) == 1008
        print(f"socket closed {time.monotonic() - revoked_at:.2f} s after the revocation")
    wait_for(
        lambda: (
            not ecs.describe_container_instances(containerInstances=[arn])["containerInstances"][0][
                "agentConnected"
            ]
        ),
        message="for the instance to read disconnected",
    )
    ecs.register_task_definition(family="revoked", containerDefinitions=[container()])
    failures = ecs.run_task(taskDefinition="revoked")["failures"]
    assert [f["reason"] for f in failures] == ["AGENT"]


def _logs(server: DockyardServer, account: Credentials, task_arn: str) -> str:
    url = f"{server.endpoint}/_dockyard/logs/{task_arn.rsplit('/', 1)[-1]}"
    request = AWSRequest(method="GET", url=url, data=b"")
    SigV4Auth(BotoCredentials(account.access_key_id, account.secret_access_key), "ecs", "us-east-1").add_auth(
        request
    )
    outgoing = urllib.request.Request(url, headers=dict(request.headers.items()))
    with urllib.request.urlopen(outgoing, timeout=60) as response:
        return str(response.read().decode())


def test_logs_are_kept_only_for_the_tasks_own_containers(
    server: DockyardServer, account: Credentials, instance: dict[str, Any], ecs: Any
) -> None:
    ecs.register_task_definition(family="talker", containerDefinitions=[container("web")])
    with agent_socket(server, account, instance) as socket:
        task_arn = ecs.run_task(taskDefinition="talker")["tasks"][0]["taskArn"]
        for name in ("invented-1", "invented-2"):
            socket.send(
                json.dumps(
                    {"type": "logs", "taskArn": task_arn, "containerName": name, "lines": [[1.0, "junk"]]}
                )
            )
        socket.send(
            json.dumps(
                {"type": "logs", "taskArn": task_arn, "containerName": "web", "lines": [[2.0, "hello"]]}
            )
        )
        text = wait_for(lambda: (t := _logs(server, account, task_arn)) and "hello" in t and t)
    assert text == "web | hello\n"


def _next_state(socket: ClientConnection) -> dict[str, Any]:
    while True:
        frame = json.loads(socket.recv(timeout=30))
        if frame["type"] == "state":
            return dict(frame)


@pytest.mark.parametrize("deltas", [True, False], ids=["deltas", "full frames"])
def test_frames_after_the_first_carry_only_what_changed(
    server: DockyardServer, account: Credentials, instance: dict[str, Any], ecs: Any, deltas: bool
) -> None:
    ecs.register_task_definition(family="web", containerDefinitions=[container()])
    url = ws_url(server.endpoint, "default", instance["containerInstanceArn"])
    if not deltas:
        url = url.replace("&stateDeltas=1", "")
    credentials = BotoCredentials(account.access_key_id, account.secret_access_key)
    with connect(
        url, additional_headers=signed_headers(url, credentials, "us-east-1"), open_timeout=60
    ) as socket:
        first = _next_state(socket)
        assert "since" not in first and first["tasks"] == []
        placed = [task["taskArn"] for task in ecs.run_task(taskDefinition="web", count=2)["tasks"]]
        placing = _next_state(socket)
        assert sorted(t["taskArn"] for t in placing["tasks"]) == sorted(placed)

        ecs.stop_task(task=placed[0])
        stopping = _next_state(socket)
        ecs.submit_task_state_change(task=placed[0], status="STOPPED")
        gone = _next_state(socket)

    if deltas:
        assert (placing["since"], placing["removed"]) == (first["version"], [])
        assert [(t["taskArn"], t["desiredStatus"]) for t in stopping["tasks"]] == [(placed[0], "STOPPED")]
        assert (stopping["since"], stopping["removed"]) == (placing["version"], [])
        assert (gone["since"], gone["tasks"], gone["removed"]) == (stopping["version"], [], [placed[0]])
    else:
        for frame in (placing, stopping, gone):
            assert "since" not in frame and "removed" not in frame
        assert {t["taskArn"]: t["desiredStatus"] for t in stopping["tasks"]} == {
            placed[0]: "STOPPED",
            placed[1]: "RUNNING",
        }
        assert [t["taskArn"] for t in gone["tasks"]] == [placed[1]]
