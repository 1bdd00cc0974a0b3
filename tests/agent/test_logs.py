"""Log batching into logs frames, shipped only once the channel has written them."""

from __future__ import annotations

import asyncio
from typing import Any

from dockyard.agent.logs import MAX_BUFFERED_LINES, MAX_LINES_PER_FRAME, LogShipper


class Socket:
    """Stands in for the channel: records what it writes; ``up`` False refuses frames."""

    def __init__(self, up: bool = True, fail_after: int | None = None) -> None:
        self.up, self.fail_after = up, fail_after
        self.sent: list[dict[str, Any]] = []

    async def deliver(self, frame: dict[str, Any]) -> bool:
        if not self.up or (self.fail_after is not None and len(self.sent) >= self.fail_after):
            return False
        self.sent.append(frame)
        return True

    def shipper(self) -> LogShipper:
        return LogShipper(self.deliver, lambda: self.up)

    def lines(self) -> list[str]:
        return [text for frame in self.sent for _, text in frame["lines"]]


def test_lines_are_batched_per_container() -> None:
    socket = Socket()
    logs = socket.shipper()
    logs.add("t1", "web", 1.0, "a")
    logs.add("t1", "web", 2.0, "b")
    logs.add("t1", "db", 3.0, "c")
    assert asyncio.run(logs.ship()) is True
    assert socket.sent == [
        {"type": "logs", "taskArn": "t1", "containerName": "web", "lines": [[1.0, "a"], [2.0, "b"]]},
        {"type": "logs", "taskArn": "t1", "containerName": "db", "lines": [[3.0, "c"]]},
    ]
    asyncio.run(logs.ship())
    assert len(socket.sent) == 2  # nothing new, nothing sent


def test_big_batches_are_split_and_old_lines_give_way() -> None:
    socket = Socket(up=False)
    logs = socket.shipper()
    for n in range(MAX_BUFFERED_LINES + 10):
        logs.add("t", "c", float(n), str(n))
    assert asyncio.run(logs.ship()) is False
    assert socket.sent == []  # held while disconnected
    socket.up = True
    asyncio.run(logs.ship())
    lines = socket.lines()
    assert len(lines) == MAX_BUFFERED_LINES and lines[0] == "10"
    assert max(len(frame["lines"]) for frame in socket.sent) == MAX_LINES_PER_FRAME


def test_one_task_is_shipped_alone() -> None:
    socket = Socket()
    logs = socket.shipper()
    logs.add("t1", "c", 1.0, "mine")
    logs.add("t2", "c", 1.0, "other")
    asyncio.run(logs.ship("t1"))
    assert socket.lines() == ["mine"]
    assert logs.pending("t1") == 0 and logs.pending("t2") == 1


def test_lines_a_lost_connection_did_not_write_are_shipped_again_in_order() -> None:
    socket = Socket(fail_after=1)
    logs = socket.shipper()
    for n in range(MAX_LINES_PER_FRAME * 2 + 5):  # three frames; the second one is refused
        logs.add("t", "c", float(n), str(n))
    logs.add("t", "d", 0.0, "other container")
    assert asyncio.run(logs.ship()) is False
    logs.add("t", "c", 9999.0, "newer")
    socket.fail_after = None
    assert asyncio.run(logs.ship()) is True
    by_container = [
        text for frame in socket.sent if frame["containerName"] == "c" for _, text in frame["lines"]
    ]
    assert by_container == [str(n) for n in range(MAX_LINES_PER_FRAME * 2 + 5)] + ["newer"]
    assert "other container" in socket.lines()
