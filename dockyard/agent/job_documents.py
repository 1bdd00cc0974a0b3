"""Job documents as the agent runs them, and what it reports back (pure, table-tested).

Dockyard's schema, each with an optional ``timeoutSeconds``:

- ``{"operation": "runContainer", "image", "command", "env"}``: a container on the Docker Engine;
- ``{"operation": "runTask", "taskDefinition", "overrides"}``: an ECS task placed on this
  instance (StartTask); SUCCEEDED when its essential containers exit 0;
- ``{"operation": "runCommand", "command", "env"}``: a process on the host, only on an agent
  started with ``--allow-host-commands``;
- ``{"operation": "loadImage", "image"}``: the image of that name (Glance name or docker tag)
  loaded from the control plane's image store onto the Docker Engine.

An operation the agent does not run is REJECTED; progress and outcome go to ``statusDetails``
(``step``, ``exitCode``, the last output line without control characters, each value at most
1,024 characters, as IoT's DetailsValue allows).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT_SECONDS = 3600.0
_MOST_CHARS = 1024
_MOST_IMAGE_CHARS = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class RejectedDocument(ValueError):
    """A document this agent will not run; the message says why."""


@dataclass(frozen=True)
class RunContainer:
    image: str
    command: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class RunTask:
    task_definition: str
    overrides: dict[str, Any] = field(default_factory=dict)
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class RunCommand:
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class LoadImage:
    image: str
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


Work = RunContainer | RunTask | RunCommand | LoadImage


def parse(document: str) -> Work:
    """The work a job document asks for; RejectedDocument when it is not work for this agent."""
    try:
        given = json.loads(document)
    except ValueError:
        raise RejectedDocument("the job document is not JSON") from None
    if not isinstance(given, dict):
        raise RejectedDocument("the job document is not a JSON object")
    operation = given.get("operation")
    timeout = given.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise RejectedDocument("timeoutSeconds must be a positive number")
    if operation == "runContainer":
        image = _image(given.get("image"), operation)
        command = _command(given.get("command"), required=False)
        return RunContainer(image, command, _env(given.get("env", {})), float(timeout))
    if operation == "runTask":
        definition, overrides = given.get("taskDefinition"), given.get("overrides", {})
        if not isinstance(definition, str) or not definition:
            raise RejectedDocument("runTask needs a taskDefinition (family, family:revision or ARN)")
        if not isinstance(overrides, dict):
            raise RejectedDocument("overrides must be an object (RunTask's TaskOverride)")
        return RunTask(definition, overrides, float(timeout))
    if operation == "runCommand":
        command = _command(given.get("command"), required=True)
        assert command is not None
        return RunCommand(command, _env(given.get("env", {})), float(timeout))
    if operation == "loadImage":
        return LoadImage(_image(given.get("image"), operation), float(timeout))
    raise RejectedDocument(f"operation {operation!r} is not one this agent runs")


def _image(image: Any, operation: str) -> str:
    if not isinstance(image, str) or not image:
        raise RejectedDocument(f"{operation} needs an image")
    if len(image) > _MOST_IMAGE_CHARS or _CONTROL.search(image) or " " in image:
        raise RejectedDocument(f"{operation}: {clean(image)[:80]!r} is not an image name")
    return image


def _command(command: Any, *, required: bool) -> list[str] | None:
    if command is None and not required:
        return None
    if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
        raise RejectedDocument("command must be a non-empty list of strings")
    return list(command)


def _env(env: Any) -> dict[str, str]:
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise RejectedDocument("env must map names to strings")
    return dict(env)


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
