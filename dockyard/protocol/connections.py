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

A small read is answered on the spot: when the application offers ``answer_now(headers, body)``
(``app.FrontDoor``), a ``POST /`` with a short body is kept by the connection until it is whole
and handed to it; the response it returns is written at once, in one write, without an ASGI
cycle (no task, no event, no receive and send coroutines, no header checks of a response
Dockyard made itself), which was a third of a read's CPU in the server. A request it declines
(a write, a large read, a PostgreSQL store) goes through the ASGI application as any other,
with the same head and body; so does every request while an earlier one of its connection is
still being answered, which keeps pipelined responses in order.

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

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from dockyard.protocol.http import HttpResponse


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
# The longest body a request answered on the spot may declare: a read naming a few items (the
# endpoint runs larger reads on a worker thread anyway).
ANSWER_NOW_BODY_BYTES = 2048

AnswerNow = Callable[[dict[str, str], bytes], "HttpResponse | None"]


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
    _answer: AnswerNow | None = None  # the application's answer_now, if it has one
    _kept: bytearray | None = None  # the body of a request kept for answer_now
    _stopping = False  # the server stops: the kept request is answered, then the connection closed

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
        self._answer = _answer_now(self.app)
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
        if self._may_answer_now():
            self._kept = bytearray()
            return
        self._start_cycle()

    def _start_cycle(self) -> None:
        """uvicorn's ASGI cycle for the request whose head was parsed, writing in one write."""
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport:
            cycle.transport = OneWriteTransport(self.transport, self.loop)  # type: ignore[assignment]

    def _may_answer_now(self) -> bool:
        """A ``POST /`` with a short body, on a connection answering nothing else."""
        if self._answer is None or self.url != b"/" or self.expect_100_continue:
            return False
        if self.parser.get_method() != b"POST" or self.parser.should_upgrade():
            return False
        cycle = self.cycle
        if (cycle is not None and not cycle.response_complete) or self.pipeline or self.flow.write_paused:
            return False
        for name, value in self.headers:
            if name == b"content-length":
                return value.isdigit() and len(value) < 6 and int(value) <= ANSWER_NOW_BODY_BYTES
        return False

    def on_body(self, body: bytes) -> None:
        self._body_earned += len(body) / MIN_BODY_RATE
        if self._kept is not None:
            self._kept += body
            return
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
        kept = self._kept
        if kept is None:
            super().on_message_complete()
            return
        self._kept = None
        body = bytes(kept)
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in self.headers}
        assert self._answer is not None
        try:
            response = self._answer(headers, body)
        except Exception as error:  # the endpoint answers every error itself; this is a bug
            self.logger.error("Exception in answer_now", exc_info=error)
            response = _INTERNAL_ERROR
        if response is None:  # declined: the ASGI application takes the request as it came
            self._start_cycle()
            if body:
                super().on_body(body)
            super().on_message_complete()
            return
        self._write_response(response, keep_alive=response is not _INTERNAL_ERROR)

    def _write_response(self, response: HttpResponse, *, keep_alive: bool) -> None:
        """``response`` in one write, as uvicorn would have written it, and the connection
        made ready for its next request (or closed)."""
        parser = self.parser
        keep_alive = keep_alive and not self._stopping
        keep_alive = keep_alive and parser.should_keep_alive() and parser.get_http_version() != "1.0"
        body = response.body
        content = [STATUS_LINE[response.status]]
        for name, value in self.server_state.default_headers:
            content += (name, b": ", value, b"\r\n")
        for text_name, text_value in response.headers:
            content.append(f"{text_name}: {text_value}\r\n".encode("latin-1"))
        content.append(b"content-length: %d\r\n" % len(body))
        if not keep_alive:
            content.append(b"connection: close\r\n")
        content += (b"\r\n", body)
        self.transport.write(b"".join(content))
        if not keep_alive:
            self.transport.close()
        self.on_response_complete()

    def shutdown(self) -> None:
        _server_stopping()
        if self._kept is not None:  # a request being read: answered, then the connection closed
            self._stopping = True
            return
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


_INTERNAL_ERROR = HttpResponse(
    status=500,
    body=b'{"__type":"ServerException","message":"An internal error occurred; see the server log."}',
    headers=[("content-type", "application/x-amz-json-1.1")],
)


def _answer_now(app: Any) -> AnswerNow | None:
    """The application's ``answer_now``, looked for through the middleware uvicorn wraps it in."""
    for _ in range(8):
        answer = getattr(app, "answer_now", None)
        if answer is not None:
            return answer  # type: ignore[no-any-return]
        app = getattr(app, "app", None)
        if app is None:
            break
    return None


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
