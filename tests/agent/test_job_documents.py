"""Job documents the agent runs or rejects, and the statusDetails it reports."""

from __future__ import annotations

import json

import pytest

from dockyard.agent.job_documents import (
    LoadImage,
    RejectedDocument,
    RunCommand,
    RunContainer,
    RunTask,
    Work,
    details,
    last_line,
    parse,
)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"operation": "runContainer", "image": "busybox"}, RunContainer("busybox")),
        (
            {
                "operation": "runContainer",
                "image": "b",
                "command": ["true"],
                "env": {"A": "1"},
                "timeoutSeconds": 5,
            },
            RunContainer("b", ["true"], {"A": "1"}, 5.0),
        ),
        ({"operation": "runTask", "taskDefinition": "web:2"}, RunTask("web:2")),
        (
            {
                "operation": "runTask",
                "taskDefinition": "web",
                "overrides": {"cpu": "256"},
                "timeoutSeconds": 9,
            },
            RunTask("web", {"cpu": "256"}, 9.0),
        ),
        ({"operation": "runCommand", "command": ["uptime"]}, RunCommand(["uptime"])),
        (
            {"operation": "runCommand", "command": ["sh", "-c", "x"], "env": {"B": "2"}},
            RunCommand(["sh", "-c", "x"], {"B": "2"}),
        ),
        ({"operation": "loadImage", "image": "web:1"}, LoadImage("web:1")),
        (
            {"operation": "loadImage", "image": "registry.local:5000/team/web:1", "timeoutSeconds": 60},
            LoadImage("registry.local:5000/team/web:1", 60.0),
        ),
    ],
    ids=[
        "an image alone",
        "every member",
        "a task",
        "a task with overrides",
        "a command",
        "a command with env",
        "an image to load",
        "an image to load with a registry and a timeout",
    ],
)
def test_parse(document: dict[str, object], expected: Work) -> None:
    assert parse(json.dumps(document)) == expected


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1]", "not a JSON object"),
        (json.dumps({"operation": "formatDisk"}), "formatDisk"),
        (json.dumps({"operation": "runContainer"}), "needs an image"),
        (json.dumps({"operation": "runContainer", "image": "b", "command": "true"}), "list of strings"),
        (json.dumps({"operation": "runContainer", "image": "b", "env": {"A": 1}}), "env"),
        (json.dumps({"operation": "runContainer", "image": "b", "timeoutSeconds": 0}), "positive"),
        (json.dumps({"operation": "runTask"}), "needs a taskDefinition"),
        (json.dumps({"operation": "runTask", "taskDefinition": "t", "overrides": []}), "overrides"),
        (json.dumps({"operation": "runCommand"}), "non-empty list"),
        (json.dumps({"operation": "runCommand", "command": []}), "non-empty list"),
        (json.dumps({"operation": "runCommand", "command": ["x"], "timeoutSeconds": True}), "positive"),
        (json.dumps({"operation": "loadImage"}), "loadImage needs an image"),
        (json.dumps({"operation": "loadImage", "image": 7}), "loadImage needs an image"),
        (json.dumps({"operation": "loadImage", "image": "web 1"}), "not an image name"),
        (json.dumps({"operation": "loadImage", "image": "web\n1"}), "not an image name"),
        (json.dumps({"operation": "loadImage", "image": "w" * 256}), "not an image name"),
        (json.dumps({"operation": "loadImage", "image": "web", "timeoutSeconds": -1}), "positive"),
    ],
    ids=[
        "not JSON",
        "not an object",
        "an unknown operation",
        "no image",
        "a command that is a string",
        "an env value that is not a string",
        "a timeout of zero",
        "a task without its definition",
        "task overrides that are not an object",
        "a command without its command",
        "an empty command",
        "a timeout that is a boolean",
        "an image load without its image",
        "an image load whose image is not a string",
        "an image name with a space",
        "an image name with a control character",
        "an image name too long",
        "an image load with a negative timeout",
    ],
)
def test_rejected(document: str, reason: str) -> None:
    with pytest.raises(RejectedDocument, match=reason):
        parse(document)


def test_details_leave_out_empty_values_and_control_characters() -> None:
    assert details("exited", exitCode=0, lastLine="", reason=None) == {"step": "exited", "exitCode": "0"}
    assert details("x", lastLine="a\x1b[31mred\x07") == {"step": "x", "lastLine": "a [31mred"}
    assert len(details("x", lastLine="y" * 5000)["lastLine"]) == 1024


def test_last_line_skips_blank_lines() -> None:
    assert last_line(b"first\nsecond\n\n  \n") == "second"
    assert last_line(b"") == ""
