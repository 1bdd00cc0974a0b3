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
from collections.abc import Awaitable, Callable
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
CHUNK = 64  # reports applied in one transaction at most
_TURN = asyncio.Lock()  # one chunk of the server's at a time (the server runs one event loop)


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


async def apply_frame(
    run: Callable[[Callable[[RequestContext], list[dict[str, Any]]]], Awaitable[list[dict[str, Any]]]],
    reports: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Apply a frame's reports through ``run`` (one transaction per call) a chunk at a time,
    one chunk of the whole server at a time; the refused ones, by index in the frame.

    On SQLite a transaction holds the event loop: a hundred agents' frames at once, in one
    group commit, held it for seconds and every read waited. A chunk at a time, reads get in
    between. A frame cut short by a failure is resent whole by its agent (harmless)."""
    refused: list[dict[str, Any]] = []
    for start in range(0, len(reports), CHUNK):
        chunk = reports[start : start + CHUNK]
        async with _TURN:
            found = await run(functools.partial(apply, reports=chunk))
        refused += [dict(refusal, index=refusal["index"] + start) for refusal in found]
    return refused


def apply(ctx: RequestContext, reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply ``reports`` (in the caller's transaction); the refused ones, by index.

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
            if _has_nul(body):  # as the HTTP path refuses it: PostgreSQL can store no NUL
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
