"""``dockyard logs`` as a user runs it: output, and clear errors that exit non-zero."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.builders import container
from tests.harness import Credentials, DockyardServer, HollowAgents, free_port


def dockyard_logs(server_endpoint: str, account: Credentials, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [".venv/bin/dockyard", "logs", *argv, "--endpoint", server_endpoint],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "AWS_ACCESS_KEY_ID": account.access_key_id,
            "AWS_SECRET_ACCESS_KEY": account.secret_access_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        },
    )


@pytest.fixture
def task_arn(ecs: Any, hollow: HollowAgents) -> str:
    ecs.create_cluster()
    hollow.instance(ecs)
    ecs.register_task_definition(family="quiet", containerDefinitions=[container("app", command=["true"])])
    return str(ecs.run_task(taskDefinition="quiet")["tasks"][0]["taskArn"])


def test_a_task_without_output_prints_nothing(
    server: DockyardServer, account: Credentials, task_arn: str
) -> None:
    done = dockyard_logs(server.endpoint, account, task_arn)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("0123456789abcdef0123456789abcdef",), "InvalidParameterException: The task "),
        (("TASK", "--region", "us-west-2"), "was not found in us-west-2."),
        (("TASK", "--container", "nope"), "has no container named 'nope'; it has app."),
    ],
    ids=["an unknown task", "the wrong region", "an unknown container"],
)
def test_what_cannot_be_shown_is_said_and_exits_non_zero(
    server: DockyardServer, account: Credentials, task_arn: str, argv: tuple[str, ...], message: str
) -> None:
    done = dockyard_logs(server.endpoint, account, *(task_arn if a == "TASK" else a for a in argv))
    assert done.returncode != 0
    assert message in done.stderr
    assert done.stderr.startswith("dockyard logs: ") and "{" not in done.stderr  # no raw JSON


def test_a_wrong_key_is_said_in_the_servers_words(server: DockyardServer, task_arn: str) -> None:
    done = dockyard_logs(server.endpoint, Credentials("AKIANOSUCHKEY", "secret", ""), task_arn)
    assert done.returncode != 0
    assert done.stderr.startswith("dockyard logs: UnrecognizedClientException: ")


def test_an_unreachable_control_plane_is_said(account: Credentials) -> None:
    done = dockyard_logs(f"http://127.0.0.1:{free_port()}", account, "abc")
    assert done.returncode != 0
    assert "dockyard logs: cannot reach http://127.0.0.1:" in done.stderr
