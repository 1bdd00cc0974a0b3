"""An item's outcome from its stopped task (Lambda response line, else exit code) and the
Lambda event it is given."""

from __future__ import annotations

import json

import pytest

from dockyard.batch.invocation import PERMANENT, SUCCEEDED, TEMPORARY, Item, event, outcome

OUTCOMES = [
    ("exit 0, no output", None, 0, SUCCEEDED, ""),
    ("exit 75", None, 75, TEMPORARY, "exit code 75"),
    ("exit 1", None, 1, PERMANENT, "exit code 1"),
    ("no exit code: the task never ran to an end", None, None, TEMPORARY, "lost"),
    ("plain text output then exit 0", "done", 0, SUCCEEDED, ""),
    (
        "a Lambda response wins over the exit code",
        json.dumps({"results": [{"taskId": "t", "resultCode": "PermanentFailure", "resultString": "bad"}]}),
        0,
        PERMANENT,
        "bad",
    ),
    (
        "a temporary failure in a response",
        json.dumps({"results": [{"resultCode": "TemporaryFailure", "resultString": "busy"}]}),
        0,
        TEMPORARY,
        "busy",
    ),
    ("a bare resultCode", json.dumps({"resultCode": "Succeeded", "resultString": "ok"}), 1, SUCCEEDED, "ok"),
    (
        "a result without its code: treatMissingKeysAs",
        json.dumps({"treatMissingKeysAs": "TemporaryFailure", "results": [{"taskId": "t"}]}),
        0,
        TEMPORARY,
        "",
    ),
    (
        "an unknown resultCode falls back to the exit code",
        json.dumps({"resultCode": "Maybe"}),
        1,
        PERMANENT,
        "exit code 1",
    ),
    ("broken JSON falls back to the exit code", "{not json", 0, SUCCEEDED, ""),
]


@pytest.mark.parametrize(
    ("line", "exit_code", "code", "message"),
    [case[1:] for case in OUTCOMES],
    ids=[case[0] for case in OUTCOMES],
)
def test_outcome(line: str | None, exit_code: int | None, code: str, message: str) -> None:
    found = outcome(last_line=line, exit_code=exit_code, stopped_reason="lost")
    assert (found.code, found.message) == (code, message)
    assert (found.http_status == 200) == (code == SUCCEEDED)


def test_events_of_both_schemas() -> None:
    item = Item("bucket", "a/b c", "v1")
    one = event(job_id="j", task_id="t", invocation_id="i", item=item, version="1.0", user_arguments={})
    assert one["tasks"] == [
        {"taskId": "t", "s3Key": "a/b c", "s3VersionId": "v1", "s3BucketArn": "arn:aws:s3:::bucket"}
    ]
    assert one["job"] == {"id": "j"} and one["invocationSchemaVersion"] == "1.0"
    two = event(
        job_id="j", task_id="t", invocation_id="i", item=item, version="2.0", user_arguments={"k": "v"}
    )
    assert two["tasks"][0]["s3Bucket"] == "bucket"
    assert two["job"] == {"id": "j", "userArguments": {"k": "v"}}
