"""A response leaves in one write: the head is held for the body, or for one turn of the loop
(``protocol/connections.OneWriteTransport``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dockyard.protocol.connections import OneWriteTransport


class Recorded(asyncio.Transport):
    """A transport that keeps what it was given, write by write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


async def _turn() -> None:
    await asyncio.sleep(0)  # one turn of the loop: what call_soon scheduled runs


def _writes(scenario: Any) -> list[bytes]:
    async def run() -> list[bytes]:
        transport = Recorded()
        await scenario(OneWriteTransport(transport, asyncio.get_running_loop()))
        await _turn()
        return transport.writes

    return asyncio.run(run())


async def _head_and_body(out: OneWriteTransport) -> None:
    out.write(b"HEAD")
    out.write(b"BODY")


async def _head_then_later_body(out: OneWriteTransport) -> None:
    out.write(b"HEAD")
    await _turn()
    out.write(b"CHUNK1")
    out.write(b"CHUNK2")


async def _head_body_and_more(out: OneWriteTransport) -> None:
    out.write(b"HEAD")
    out.write(b"BODY")
    out.write(b"MORE")


async def _head_then_close(out: OneWriteTransport) -> None:
    out.write(b"HEAD")
    out.close()


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        pytest.param(_head_and_body, [b"HEADBODY"], id="a head and its body in one turn go in one write"),
        pytest.param(
            _head_then_later_body,
            [b"HEAD", b"CHUNK1", b"CHUNK2"],
            id="a streamed response's head leaves at the end of the turn, its chunks as they come",
        ),
        pytest.param(_head_body_and_more, [b"HEADBODY", b"MORE"], id="only the first write is held"),
        pytest.param(_head_then_close, [b"HEAD"], id="a close sends the held head first"),
    ],
)
def test_writes(scenario: Any, expected: list[bytes]) -> None:
    assert _writes(scenario) == expected


def test_a_head_held_for_a_closed_connection_is_dropped() -> None:
    async def run() -> list[bytes]:
        transport = Recorded()
        out = OneWriteTransport(transport, asyncio.get_running_loop())
        out.write(b"HEAD")
        transport.close()  # the client went away before the end of the turn
        await _turn()
        return transport.writes

    assert asyncio.run(run()) == []
