"""The HTTP connections the control plane accepts: uvicorn's httptools protocol with the limits
a server facing strangers needs, so slow or abusive clients can't hold it.

uvicorn bounds only the idle time between requests (keep-alive). Here a request must also
send its head (request line and headers, at most ``MAX_HEAD_BYTES``) within ``head_seconds`` of
its first byte or of the connection's opening, and its body within ``body_seconds`` of its
head, plus one second for every ``MIN_BODY_RATE`` bytes received (a large upload through the S3
gateway takes as long as it takes at a decent rate; a trickle does not earn time); a connection
past either deadline is closed, and the request never reaches the
application with a partial body. Connections are capped overall and per client address: one
over a cap is closed as it opens, before anything of it is read.

A response leaves in one write: uvicorn writes a response's head as soon as the application
starts it and its body in a second write, two sends (and two TCP segments) for a reply of a
few hundred bytes. Each request's writer holds the head back until the body's first write, or
until the event loop's current turn ends (a streamed response whose body comes later).

The limits are class attributes set once at start-up (``configure``): uvicorn builds one
protocol object per connection from the class, with no other place to pass settings.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    head_seconds: float = 10.0
    body_seconds: float = 30.0
    keep_alive_seconds: int = 5
    max_connections: int = 10_000
    max_connections_per_client: int = 512


MAX_HEAD_BYTES = 64 * 1024
MIN_BODY_RATE = 256 * 1024  # bytes per second a long body must keep up (after body_seconds)
MAX_WEBSOCKET_FRAME_BYTES = 1024 * 1024


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """One HTTP connection, with deadlines for its requests' heads and bodies and a place
    under the connection caps."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    # Open connections per client address, in this process (one event loop).
    by_client: ClassVar[Counter[str]] = Counter()
    total: ClassVar[int] = 0

    # One timer per connection, moved only when a deadline comes earlier than it: a request
    # sets and clears its deadlines (three per request) without a timer call each.
    _timer: asyncio.TimerHandle | None = None
    _timer_at = 0.0  # loop time the timer fires at
    _due: float | None = None  # loop time the current deadline passes; None: no deadline
    _expire: Callable[[], None] | None = None  # what happens then
    _body_earned = 0.0  # seconds the body received so far added to its deadline
    _address: str | None = None
    _head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        cls = GuardedHttpToolsProtocol
        address = self.client[0] if self.client else ""
        limits = cls.limits
        if cls.total >= limits.max_connections or cls.by_client[address] >= limits.max_connections_per_client:
            transport.abort()  # nothing read, nothing answered: the cheapest refusal
            return
        self._address = address
        cls.by_client[address] += 1
        cls.total += 1
        self._arm(limits.head_seconds)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        self._release()
        super().connection_lost(exc)

    def _release(self) -> None:
        if self._address is not None:
            cls = GuardedHttpToolsProtocol
            cls.total -= 1
            cls.by_client[self._address] -= 1
            if cls.by_client[self._address] <= 0:
                del cls.by_client[self._address]
            self._address = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm(self.limits.head_seconds)  # the next request of a kept-alive connection

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._body_earned = 0.0
        self._arm(self.limits.body_seconds, self._body_deadline_passed)
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport:
            cycle.transport = OneWriteTransport(self.transport, self.loop)  # type: ignore[assignment]

    def on_body(self, body: bytes) -> None:
        self._body_earned += len(body) / MIN_BODY_RATE
        super().on_body(body)

    def _body_deadline_passed(self) -> None:
        # The time the body earned since the timer was set, if any, moves the deadline on.
        earned, self._body_earned = self._body_earned, 0.0
        if earned >= 0.001:
            self._arm(earned, self._body_deadline_passed)
        else:
            self._close()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def shutdown(self) -> None:
        _server_stopping()
        super().shutdown()

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes the connection over (its close is never seen here),
        # with its own limits: a signed upgrade, a frame size cap, pings.
        self._stop_timer()
        self._release()
        super().handle_websocket_upgrade()

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._close()

    def _arm(self, seconds: float, expire: Any = None) -> None:
        self._due = due = self.loop.time() + seconds
        self._expire = expire or self._close
        if self._timer is None or due < self._timer_at:
            self._schedule(due)

    def _disarm(self) -> None:
        self._due = None  # the timer finds nothing due and stops

    def _schedule(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self.loop.call_at(at, self._deadline_check)

    def _deadline_check(self) -> None:
        self._timer = None
        due = self._due
        if due is None:
            return
        if self.loop.time() + 0.001 < due:  # moved on since the timer was set (1 ms: timer slack)
            self._schedule(due)
            return
        expire, self._due, self._expire = self._expire, None, None
        if expire is not None:
            expire()

    def _stop_timer(self) -> None:
        self._due = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close(self) -> None:
        self._stop_timer()
        if not self.transport.is_closing():
            self.transport.abort()


class OneWriteTransport:
    """What one request's response cycle writes through: its first write (the head) is held
    and sent with the next one (the body), or at the end of the loop's turn if none comes."""

    __slots__ = ("_transport", "_loop", "_held")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif self._loop is not None:  # the first write: held for a turn of the loop
            self._held = data
            self._loop.call_soon(self._flush)
            self._loop = None  # type: ignore[assignment]
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


# What to call when the server starts to stop (uvicorn tells each connection to shut down):
# long-lived responses, the console's event streams, end then, so the stop never waits on them.
_when_stopping: list[weakref.WeakMethod[Callable[[], None]]] = []


def when_stopping(method: Callable[[], None]) -> None:
    """Call ``method`` (a bound method, held weakly) once, when the server starts to stop."""
    _when_stopping.append(weakref.WeakMethod(method))


def _server_stopping() -> None:
    while _when_stopping:
        method = _when_stopping.pop()()
        if method is not None:
            method()


def configure(limits: ConnectionLimits) -> None:
    """Set the limits every connection of this process is held to."""
    GuardedHttpToolsProtocol.limits = limits


def uvicorn_settings(limits: ConnectionLimits) -> dict[str, Any]:
    """uvicorn's own settings that go with ``limits``."""
    return {
        "http": GuardedHttpToolsProtocol,
        "timeout_keep_alive": limits.keep_alive_seconds,
        # WebSocket frames (the agent channel) of at most 1 MiB. No protocol pings: the channel's
        # own heartbeats find a dead peer (30 s of silence), and pings on top cost 500 a second
        # at 5,000 agents.
        "ws_max_size": MAX_WEBSOCKET_FRAME_BYTES,
        "ws_ping_interval": None,
    }
