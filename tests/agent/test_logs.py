"""Log batching into logs frames."""

from __future__ import annotations

from typing import Any

from dockyard.agent.logs import MAX_BUFFERED_LINES, MAX_LINES_PER_FRAME, LogShipper


def shipper(connected: bool = True) -> tuple[LogShipper, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []

    def send(frame: dict[str, Any]) -> bool:
        sent.append(frame)
        return True

    return LogShipper(send, lambda: connected), sent


def test_lines_are_batched_per_container() -> None:
    logs, sent = shipper()
    logs.add("t1", "web", 1.0, "a")
    logs.add("t1", "web", 2.0, "b")
    logs.add("t1", "db", 3.0, "c")
    logs.flush()
    assert sent == [
        {"type": "logs", "taskArn": "t1", "containerName": "web", "lines": [[1.0, "a"], [2.0, "b"]]},
        {"type": "logs", "taskArn": "t1", "containerName": "db", "lines": [[3.0, "c"]]}]
    logs.flush()
    assert len(sent) == 2  # nothing new, nothing sent


def test_big_batches_are_split_and_old_lines_give_way() -> None:
    logs, sent = shipper(connected=False)
    for n in range(MAX_BUFFERED_LINES + 10):
        logs.add("t", "c", float(n), str(n))
    logs.flush()
    assert sent == []  # held while disconnected
    logs.connected = lambda: True
    logs.flush()
    lines = [line for frame in sent for line in frame["lines"]]
    assert len(lines) == MAX_BUFFERED_LINES and lines[0][1] == "10"
    assert max(len(frame["lines"]) for frame in sent) == MAX_LINES_PER_FRAME
