"""The embedded store's rclone child: started on first use, started again when it dies, gone
when the server is killed, and without secrets on its command line."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.harness import DockyardServer
from tests.objectstore.conftest import s3_client

T = TypeVar("T")


def rclone_children(server_pid: int) -> list[int]:
    """The server's live ``rclone serve s3`` children."""
    found = []
    for children in Path(f"/proc/{server_pid}/task").glob("*/children"):
        for pid in children.read_text().split():
            if is_rclone(int(pid)):
                found.append(int(pid))
    return found


def is_rclone(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z" and any(part.endswith(b"rclone") for part in command) and b"serve" in command


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 120) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:  # the store may refuse while it restarts
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[DockyardServer]:
    instance = DockyardServer(data_dir=tmp_path / "server").start()
    yield instance
    if instance.process is not None:
        instance.stop()


def client(server: DockyardServer) -> Any:
    return s3_client(server, server.new_account())


def test_rclone_starts_on_first_use_without_secrets_in_its_command_line_and_stops_with_the_server(
    own_server: DockyardServer,
) -> None:
    assert own_server.process is not None
    assert rclone_children(own_server.process.pid) == []  # a server that no one asks starts none
    s3 = client(own_server)
    s3.create_bucket(Bucket="first-use")
    [pid] = rclone_children(own_server.process.pid)
    command = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    assert "auth-key" not in command and "AUTH_KEY" not in command
    assert (own_server.data_dir / "objects").is_dir()
    assert own_server.stop() == 0
    wait_for(lambda: not is_rclone(pid), "rclone to stop with the server", timeout=120)


def test_a_killed_rclone_is_started_again_and_dies_with_a_killed_server(own_server: DockyardServer) -> None:
    assert own_server.process is not None
    s3 = client(own_server)
    s3.create_bucket(Bucket="kept")
    s3.put_object(Bucket="kept", Key="k", Body=b"before")
    [first] = rclone_children(own_server.process.pid)
    os.kill(first, signal.SIGKILL)
    server_pid = own_server.process.pid
    second = wait_for(
        lambda: next((pid for pid in rclone_children(server_pid) if pid != first), None), "a new rclone"
    )
    body = wait_for(lambda: s3.get_object(Bucket="kept", Key="k")["Body"].read(), "the store to answer")
    assert body == b"before"
    own_server.stop(signal.SIGKILL)
    wait_for(lambda: not is_rclone(second), "rclone to die with the server", timeout=120)
