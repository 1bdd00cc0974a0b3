"""Job documents as the agent runs them, and what it reports back (pure, table-tested).

Dockyard's schema: ``{"operation": "runContainer", "image", "command", "env",
"timeoutSeconds"}``. An operation the agent does not run is REJECTED; progress and outcome go
to ``statusDetails`` (``step``, ``exitCode``, the last output line without control characters,
each value at most 1,024 characters, as IoT's DetailsValue allows).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT_SECONDS = 3600.0
_MOST_CHARS = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class RejectedDocument(ValueError):
    """A document this agent will not run; the message says why."""


@dataclass(frozen=True)
class RunContainer:
    image: str
    command: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


def parse(document: str) -> RunContainer:
    """The work a job document asks for; RejectedDocument when it is not work for this agent."""
    try:
        given = json.loads(document)
    except ValueError:
        raise RejectedDocument("the job document is not JSON") from None
    if not isinstance(given, dict):
        raise RejectedDocument("the job document is not a JSON object")
    operation = given.get("operation")
    if operation != "runContainer":
        raise RejectedDocument(f"operation {operation!r} is not one this agent runs")
    image = given.get("image")
    command = given.get("command")
    env = given.get("env", {})
    timeout = given.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
    if not isinstance(image, str) or not image:
        raise RejectedDocument("runContainer needs an image")
    if command is not None and (
        not isinstance(command, list) or not all(isinstance(a, str) for a in command)
    ):
        raise RejectedDocument("command must be a list of strings")
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise RejectedDocument("env must map names to strings")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise RejectedDocument("timeoutSeconds must be a positive number")
    return RunContainer(image=image, command=command, env=dict(env), timeout_seconds=float(timeout))


def clean(value: str) -> str:
    """A statusDetails value: no control characters, at most 1,024 characters."""
    return _CONTROL.sub(" ", value).strip()[:_MOST_CHARS]


def details(step: str, **more: Any) -> dict[str, str]:
    """statusDetails for a step; empty values are left out (IoT refuses them)."""
    found = {"step": step, **{name: clean(str(value)) for name, value in more.items() if value is not None}}
    return {name: value for name, value in found.items() if value}


def last_line(output: bytes) -> str:
    lines = [line for line in output.decode("utf-8", errors="replace").splitlines() if line.strip()]
    return clean(lines[-1]) if lines else ""
