"""Batched task reports up the agent channel (docs/agent-protocol.md §3a).

An agent may send ``{"type": "taskReports", "id": N, "reports": [...]}``, each report exactly a
SubmitTaskStateChange request body. The reports are validated against the action's botocore
input shape and applied, in order, by the action's own domain method
(:func:`dockyard.ecs.task_reports.submit_task_state_change`), all in one transaction; the
answer ``{"type": "taskReportsAck", "id": N, "refused": [...]}`` names the reports the control
plane refused (as the HTTP action would have, with its error code), which the agent drops.

Why: a task's life is three reports (PENDING, RUNNING, STOPPED); as HTTP requests each pays for
a connection turn, a SigV4 check and a transaction of its own, and for short tasks (a batch
job's items) that was most of the server's work. Over the socket, already authenticated, an
agent's reports of a moment share one frame and one transaction.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from dockyard.context import RequestContext
from dockyard.ecs import task_reports
from dockyard.errors import ApiError, InvalidParameterException
from dockyard.protocol.dispatch import snake_case
from dockyard.protocol.json_protocol import _has_nul
from dockyard.protocol.models import operation

FRAME_TYPE = "taskReports"
ACK_TYPE = "taskReportsAck"
OPERATION = "SubmitTaskStateChange"
MAX_REPORTS = 1000  # per frame; an agent sends at most 500 (dockyard/agent/reporter.py)


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


def apply(ctx: RequestContext, reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply ``reports`` in order (in the caller's transaction); the refused ones, by index.

    A refusal is raised before the domain method writes (validation, an unknown task), so
    the reports before and after it still count, as separate HTTP calls would."""
    found = operation("ecs", OPERATION)
    assert found is not None
    shape, keywords, validator = found.input_shape, _keywords(), ctx.server.validator
    refused: list[dict[str, Any]] = []
    for index, body in enumerate(reports):
        try:
            if _has_nul(body):  # as the HTTP path refuses it: PostgreSQL can store no NUL
                raise InvalidParameterException("Strings must not contain the NUL character (U+0000).")
            validator.validate(shape, body)
            task_reports.submit_task_state_change(
                ctx, **{keywords[name]: value for name, value in body.items() if name in keywords}
            )
        except ApiError as error:
            refused.append({"index": index, "code": error.code, "message": error.message[:256]})
    return refused


def ack(frame_id: int, refused: list[dict[str, Any]]) -> str:
    return orjson.dumps({"type": ACK_TYPE, "id": frame_id, "refused": refused}).decode()
