"""Batched task reports up the agent channel (docs/agent-protocol.md §3a).

An agent may send ``{"type": "taskReports", "id": N, "reports": [...]}``, each report exactly a
SubmitTaskStateChange request body. The reports are validated against the action's botocore
input shape and applied, in order, as the action's own domain method would apply them
(:func:`dockyard.ecs.task_reports.submit_task_state_changes`: the frame's tasks read and
written together), all in one transaction; the
answer ``{"type": "taskReportsAck", "id": N, "refused": [...]}`` names the reports the control
plane refused (as the HTTP action would have, with its error code), which the agent drops.

Why: a task's life is three reports (PENDING, RUNNING, STOPPED); as HTTP requests each pays for
a connection turn, a SigV4 check and a transaction of its own, and for short tasks (a batch
job's items) that was most of the server's work. Over the socket, already authenticated, an
agent's reports of a moment share one frame and one transaction.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import orjson

from dockyard.context import RequestContext
from dockyard.ecs import task_lifecycle, task_reports
from dockyard.errors import ApiError, InvalidParameterException
from dockyard.protocol.dispatch import snake_case
from dockyard.protocol.json_protocol import _has_nul
from dockyard.protocol.models import operation

FRAME_TYPE = "taskReports"
ACK_TYPE = "taskReportsAck"
OPERATION = "SubmitTaskStateChange"
MAX_REPORTS = 1000  # per frame; an agent sends at most 200 (dockyard/agent/reporter.py)
CHUNK = 64  # reports of one frame in a turn at most
TURN_REPORTS = task_reports.TURN_REPORTS  # reports applied in one transaction at most


class MalformedReports(ValueError):
    """The frame is not a list of report objects with an id (the socket closes)."""


@functools.cache
def _keywords() -> dict[str, str]:
    """Wire member name -> the domain method's keyword, from the botocore model."""
    found = operation("ecs", OPERATION)
    assert found is not None and found.input_shape is not None
    return {member: snake_case(member) for member in found.input_shape.members}


def reports_of(message: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """The frame's id and reports; MalformedReports if it is not that shape."""
    frame_id, reports = message.get("id"), message.get("reports")
    if not isinstance(frame_id, int) or isinstance(frame_id, bool):
        raise MalformedReports("id must be an integer")
    if not isinstance(reports, list) or not all(isinstance(report, dict) for report in reports):
        raise MalformedReports("reports must be a list of objects")
    if len(reports) > MAX_REPORTS:
        raise MalformedReports(f"more than {MAX_REPORTS} reports in one frame")
    return frame_id, reports


Run = Callable[[Callable[[RequestContext], list[dict[str, Any]]]], Awaitable[list[dict[str, Any]]]]


@dataclass
class _Chunk:
    """Up to CHUNK reports of one frame, waiting for their turn."""

    run: Run
    together: Hashable
    reports: list[dict[str, Any]]
    refused: asyncio.Future[list[dict[str, Any]]]
    may_hold_nul: bool = True  # False: its frame's text has no "\u0000", so no string holds one


@dataclass
class _Turns:
    """The chunks of every connection on one event loop, and who applies them."""

    queue: deque[_Chunk] = field(default_factory=deque)
    leader: asyncio.Task[None] | None = None


_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Turns] = weakref.WeakKeyDictionary()


async def apply_frame(
    run: Run, reports: list[dict[str, Any]], *, together: Hashable = None, may_hold_nul: bool = True
) -> list[dict[str, Any]]:
    """Apply a frame's reports through ``run`` (one transaction per call); the refused ones,
    by index in the frame. ``may_hold_nul`` False: the frame's text was seen to hold no NUL.

    The frames of all connections queue, a chunk at a time, and take turns: one turn applies
    the chunks queued by then whose ``together`` is the same (not None: the same identity and
    region), up to TURN_REPORTS reports, in one transaction. Why: a hundred agents each send
    a frame or two of a few reports a second, and a transaction per frame (its commit, its
    reads of the cluster and the instance) cost more than the reports. Why not all at once:
    on SQLite a transaction holds the event loop; between turns, reads get in. A frame cut
    short by a failure is resent whole by its agent (harmless)."""
    loop = asyncio.get_running_loop()
    turns = _TURNS.setdefault(loop, _Turns())
    chunks = [
        _Chunk(run, together, reports[start : start + CHUNK], loop.create_future(), may_hold_nul)
        for start in range(0, len(reports), CHUNK)
    ]
    turns.queue.extend(chunks)
    if turns.leader is None:
        turns.leader = loop.create_task(_lead(turns))
    refused: list[dict[str, Any]] = []
    for number, chunk in enumerate(chunks):
        found = await chunk.refused
        refused += [dict(refusal, index=refusal["index"] + number * CHUNK) for refusal in found]
    return refused


async def _lead(turns: _Turns) -> None:
    try:
        while turns.queue:
            await asyncio.sleep(0)  # the frames the loop has read by now join this turn
            turn = _next_turn(turns.queue)
            try:
                await _apply_turn(turn)
            except Exception as error:
                if len(turn) == 1:
                    _fail(turn[0], error)
                    continue
                for chunk in turn:  # which frame failed it? each alone, so only that one fails
                    try:
                        await _apply_turn([chunk])
                    except Exception as alone:
                        _fail(chunk, alone)
    finally:
        turns.leader = None


def _next_turn(queue: deque[_Chunk]) -> list[_Chunk]:
    """The first chunk, and those queued after it that may share its transaction."""
    first = queue.popleft()
    turn, count = [first], len(first.reports)
    if first.together is None:
        return turn
    kept: list[_Chunk] = []
    while queue:
        chunk = queue.popleft()
        if chunk.together == first.together and count + len(chunk.reports) <= TURN_REPORTS:
            turn.append(chunk)
            count += len(chunk.reports)
        else:
            kept.append(chunk)
    queue.extendleft(reversed(kept))
    return turn


async def _apply_turn(turn: list[_Chunk]) -> None:
    """The turn's chunks in one transaction; each chunk's refusals to its frame."""
    combined = [report for chunk in turn for report in chunk.reports]
    check_nul = [chunk.may_hold_nul for chunk in turn for _ in chunk.reports]
    found = await turn[0].run(functools.partial(apply, reports=combined, check_nul=check_nul))
    start = 0
    for chunk in turn:
        end = start + len(chunk.reports)
        mine = [
            dict(refusal, index=refusal["index"] - start)
            for refusal in found
            if start <= refusal["index"] < end
        ]
        if not chunk.refused.done():  # its connection may have gone away meanwhile
            chunk.refused.set_result(mine)
        start = end


def _fail(chunk: _Chunk, error: Exception) -> None:
    if not chunk.refused.done():
        chunk.refused.set_exception(error)


def apply(
    ctx: RequestContext, reports: list[dict[str, Any]], check_nul: list[bool] | None = None
) -> list[dict[str, Any]]:
    """Apply ``reports`` (in the caller's transaction); the refused ones, by index. A report
    whose ``check_nul`` is False came in a frame seen to hold no NUL: its strings are not walked.

    A task's reports in one frame are folded into one (its latest status, its containers'
    latest facts, the first pull times), applied where its last report stands: statuses only
    move forward, so the task ends as the reports one by one would have left it, for a third
    of the work when a short task's whole life comes at once. A refusal is raised before the
    domain method writes (validation, an unknown task), so the others still count, as
    separate HTTP calls would."""
    found = operation("ecs", OPERATION)
    assert found is not None
    shape, validator = found.input_shape, ctx.server.validator
    refused: list[dict[str, Any]] = []
    folded: dict[tuple[Any, Any], tuple[int, dict[str, Any]]] = {}
    for index, body in enumerate(reports):
        try:
            # As the HTTP path refuses it: PostgreSQL can store no NUL.
            if (check_nul is None or check_nul[index]) and _has_nul(body):
                raise InvalidParameterException("Strings must not contain the NUL character (U+0000).")
            validator.validate(shape, body)
            task_reports.check_status(body.get("status"))  # before folding: refused, not folded away
        except ApiError as error:
            refused.append(_refusal(index, error))
            continue
        key = (body.get("cluster"), body.get("task"))
        earlier = folded.pop(key, None)
        folded[key] = (index, body if earlier is None else _fold(earlier[1], body))
    keywords = _keywords()
    indexes = [index for index, _ in folded.values()]
    found = task_reports.submit_task_state_changes(
        ctx,
        [
            {keywords[name]: value for name, value in body.items() if name in keywords}
            for _, body in folded.values()
        ],
    )
    refused += [
        _refusal(index, error) for index, error in zip(indexes, found, strict=True) if error is not None
    ]
    return sorted(refused, key=lambda refusal: int(refusal["index"]))


def _fold(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Two reports of one task as one: what the later says wins, pull times stay the first."""
    folded = {**earlier, **later}
    for name in ("pullStartedAt", "pullStoppedAt"):
        if earlier.get(name) is not None:
            folded[name] = earlier[name]
    if earlier.get("status") and later.get("status"):
        folded["status"] = task_lifecycle.later(earlier["status"], later["status"])
    containers = {str(c.get("containerName")): c for c in earlier.get("containers") or ()}
    for change in later.get("containers") or ():
        name = str(change.get("containerName"))
        containers[name] = {**containers.get(name, {}), **change}
    if containers:
        folded["containers"] = list(containers.values())
    return folded


def _refusal(index: int, error: ApiError) -> dict[str, Any]:
    return {"index": index, "code": error.code, "message": error.message[:256]}


def ack(frame_id: int, refused: list[dict[str, Any]]) -> str:
    return orjson.dumps({"type": ACK_TYPE, "id": frame_id, "refused": refused}).decode()
