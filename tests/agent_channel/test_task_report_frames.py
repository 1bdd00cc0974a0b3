"""Task reports up the agent socket (docs/agent-protocol.md §3a): applied as SubmitTaskStateChange
would apply them, refusals named in the ack, a replay harmless, a malformed frame refused."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

import pytest

from dockyard.agent_channel import task_report_frames
from tests.agent_channel.test_endpoint import agent_socket, close_code
from tests.builders import container, register_instance
from tests.harness import Credentials, DockyardServer


@pytest.fixture
def registered(ecs: Any) -> dict[str, Any]:
    ecs.create_cluster()
    return register_instance(ecs, ports=())


def _ack(socket: Any, frame_id: int) -> dict[str, Any]:
    while True:
        frame = json.loads(socket.recv(timeout=30))
        if frame["type"] == "taskReportsAck":
            assert frame["id"] == frame_id
            return dict(frame)


def _life(cluster: str, task: str) -> list[dict[str, Any]]:
    """A short task's whole life, as a hollow agent reports it in one frame."""
    running = {"containerName": "web", "runtimeId": "r-1"}
    return [
        {
            "cluster": cluster,
            "task": task,
            "status": "PENDING",
            "containers": [{"containerName": "web", "status": "PENDING"}],
        },
        {
            "cluster": cluster,
            "task": task,
            "status": "RUNNING",
            "containers": [{**running, "status": "RUNNING"}],
            "pullStartedAt": 1764000000.0,
            "pullStoppedAt": 1764000000.5,
        },
        {
            "cluster": cluster,
            "task": task,
            "status": "STOPPED",
            "reason": "Essential container in task exited",
            "containers": [{**running, "status": "STOPPED", "exitCode": 0}],
            "executionStoppedAt": 1764000001.0,
        },
    ]


def test_a_frame_of_reports_moves_the_task_as_the_action_would_and_names_refusals(
    server: DockyardServer,
    account: Credentials,
    registered: dict[str, Any],
    ecs: Any,
) -> None:
    ecs.register_task_definition(family="short", containerDefinitions=[container("web")])
    with agent_socket(server, account, registered) as socket:
        task = ecs.run_task(taskDefinition="short")["tasks"][0]
        cluster, arn = task["clusterArn"], task["taskArn"]
        reports = [
            *_life(cluster, arn),
            {"cluster": cluster, "task": arn.replace(arn.rsplit("/", 1)[1], "0" * 32), "status": "RUNNING"},
            {"cluster": cluster, "task": arn, "status": "DANCING"},
            {"cluster": cluster, "task": arn, "status": "RUNNING", "containers": "web"},
            # json.dumps escapes it: a NUL reaches the server only as "\u0000", refused as the
            # HTTP action refuses it (PostgreSQL can store none), not stored, not the socket closed.
            {"cluster": cluster, "task": arn, "status": "STOPPED", "reason": "bad\x00reason"},
        ]
        socket.send(json.dumps({"type": "taskReports", "id": 7, "reports": reports}))
        ack = _ack(socket, 7)
        assert [(r["index"], r["code"]) for r in ack["refused"]] == [
            (3, "InvalidParameterException"),
            (4, "InvalidParameterException"),
            (5, "SerializationException"),  # as the HTTP action answers a list that is not one
            (6, "InvalidParameterException"),
        ]
        described = ecs.describe_tasks(tasks=[arn])["tasks"][0]
        assert described["lastStatus"] == "STOPPED"
        assert described["stopCode"] == "EssentialContainerExited" and "startedAt" in described
        assert described["containers"][0]["exitCode"] == 0
        assert described["containers"][0]["runtimeId"] == "r-1"
        # A replay (an agent that reconnected before its ack came) changes nothing; a frame
        # longer than a transaction's chunk still names its refusals by their place in it.
        unknown = {"cluster": cluster, "task": arn.replace(arn.rsplit("/", 1)[1], "1" * 32)}
        socket.send(
            json.dumps({"type": "taskReports", "id": 8, "reports": _life(cluster, arn) * 23 + [unknown]})
        )
        assert [r["index"] for r in _ack(socket, 8)["refused"]] == [69]
        again = ecs.describe_tasks(tasks=[arn])["tasks"][0]
        assert (again["lastStatus"], again["stoppedAt"]) == ("STOPPED", described["stoppedAt"])


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        (
            [
                {
                    "task": "a",
                    "status": "PENDING",
                    "containers": [{"containerName": "web", "status": "PENDING"}],
                },
                {
                    "task": "a",
                    "status": "RUNNING",
                    "pullStartedAt": 1.0,
                    "pullStoppedAt": 2.0,
                    "containers": [{"containerName": "web", "status": "RUNNING", "runtimeId": "r"}],
                },
                {
                    "task": "a",
                    "status": "STOPPED",
                    "reason": "done",
                    "pullStartedAt": 5.0,
                    "containers": [{"containerName": "web", "status": "STOPPED", "exitCode": 0}],
                },
            ],
            {
                "task": "a",
                "status": "STOPPED",
                "reason": "done",
                "pullStartedAt": 1.0,
                "pullStoppedAt": 2.0,
                "containers": [
                    {"containerName": "web", "status": "STOPPED", "runtimeId": "r", "exitCode": 0}
                ],
            },
        ),
        (
            [{"task": "a", "status": "STOPPED"}, {"task": "a", "status": "RUNNING"}],
            {"task": "a", "status": "STOPPED"},
        ),
        (
            [
                {"task": "a", "containers": [{"containerName": "x", "status": "RUNNING"}]},
                {"task": "a", "containers": [{"containerName": "y", "status": "RUNNING"}]},
            ],
            {
                "task": "a",
                "containers": [
                    {"containerName": "x", "status": "RUNNING"},
                    {"containerName": "y", "status": "RUNNING"},
                ],
            },
        ),
    ],
    ids=[
        "a short life folds into its end, with the first pull times and every container fact",
        "a late report never moves the status back",
        "containers of different reports are all kept",
    ],
)
def test_a_tasks_reports_in_one_frame_fold_into_one(
    reports: list[dict[str, Any]], expected: dict[str, Any]
) -> None:
    folded = reports[0]
    for report in reports[1:]:
        folded = task_report_frames._fold(folded, report)
    assert folded == expected


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param({"type": "taskReports", "id": 1, "reports": "all"}, id="reports not a list"),
        pytest.param({"type": "taskReports", "id": 1, "reports": [7]}, id="a report not an object"),
        pytest.param({"type": "taskReports", "reports": []}, id="no id"),
        pytest.param({"type": "taskReports", "id": 1, "reports": [{}] * 1001}, id="too many reports"),
    ],
)
def test_a_malformed_report_frame_closes_the_socket(
    server: DockyardServer,
    account: Credentials,
    registered: dict[str, Any],
    frame: dict[str, Any],
) -> None:
    with agent_socket(server, account, registered) as socket:
        socket.send(json.dumps(frame))
        assert close_code(socket) == 1003
    assert "Traceback" not in server.log()


def _chunk(together: Any, reports: int) -> task_report_frames._Chunk:
    return task_report_frames._Chunk(
        run=_never, together=together, reports=[{"n": n} for n in range(reports)], refused=_no_future()
    )


async def _never(function: Any) -> list[dict[str, Any]]:
    raise AssertionError("not run")


def _no_future() -> Any:
    return None  # the turns' grouping never looks at it


@pytest.mark.parametrize(
    ("queued", "turn", "left"),
    [
        ([("a", 10), ("a", 20), ("a", 30)], [0, 1, 2], []),
        ([("a", 10), ("b", 20), ("a", 30)], [0, 2], [1]),
        ([(None, 10), (None, 20)], [0], [1]),
        ([("a", 200), ("a", 64), ("a", 56)], [0, 2], [1]),
    ],
    ids=[
        "the chunks of one identity and region share a turn",
        "another identity's chunk waits, in its place",
        "a frame given no identity to share goes alone",
        "a turn takes at most TURN_REPORTS reports; the chunk that would pass it waits",
    ],
)
def test_a_turn_takes_the_queued_chunks_that_may_share_its_transaction(
    queued: list[tuple[Any, int]], turn: list[int], left: list[int]
) -> None:
    chunks = [_chunk(together, reports) for together, reports in queued]
    queue = deque(chunks)
    taken = task_report_frames._next_turn(queue)
    assert [chunks.index(chunk) for chunk in taken] == turn
    assert [chunks.index(chunk) for chunk in queue] == left


def test_frames_sharing_a_turn_get_their_own_refusals_and_a_failing_one_fails_alone() -> None:
    applied: list[list[int]] = []

    async def run(function: Any) -> list[dict[str, Any]]:
        reports = function.keywords["reports"]
        if any(report.get("poison") for report in reports):
            raise RuntimeError("a report the domain code could not take")
        applied.append([report["n"] for report in reports])
        return [{"index": index, "code": "X"} for index, report in enumerate(reports) if report.get("bad")]

    async def scenario() -> list[Any]:
        frames = [
            [{"n": 0}, {"n": 1, "bad": True}],
            [{"n": 2, "bad": True}, {"n": 3}],
            [{"n": 4, "poison": True}],
        ]
        return list(
            await asyncio.gather(
                *(task_report_frames.apply_frame(run, frame, together="key") for frame in frames),
                return_exceptions=True,
            )
        )

    first, second, third = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert first == [{"index": 1, "code": "X"}] and second == [{"index": 0, "code": "X"}]
    assert isinstance(third, RuntimeError)
    assert applied == [[0, 1], [2, 3]]  # the turn of all three failed: then each frame alone
