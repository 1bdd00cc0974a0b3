"""Live pages: a server-sent event stream per page view that says "changed" when what the page
shows has changed; the page then fetches itself once and swaps its live regions.

Cheap for the server: streams watching the same thing (a cluster, a task, a job, an account's
lists) share one *watch*, which reads a stamp of that thing (a few counts and sums of the
versions the store keeps: ``tasks.version``, ``container_instances.version``, the clusters'
``placement_version``, the jobs' ``updated_at``...) once a tick and wakes its streams only
when the stamp moved. Nothing is rendered on the server for an unchanged page, and the stamp
also sees changes made by another worker or replica, since it is read from the store.

Bounds: a few streams per session (a browser holds six connections per host), a cap per
process; a refused stream is a 429 and the page falls back to a slow poll. A stream sends a
heartbeat comment, ends when its client leaves, when its session's key is revoked (a
``signedout`` event) and when the server stops (``connections.when_stopping``), so uvicorn's
shutdown never waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from dockyard.console import sessions
from dockyard.console.web import PREFIX, Console, Visit
from dockyard.context import Identity
from dockyard.protocol import connections
from dockyard.store.schema import (
    clusters,
    container_instances,
    container_logs,
    job_items,
    jobs,
    service_deployments,
    services,
    task_definition_families,
    tasks,
)

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
STREAMS_PER_SESSION = 4
STREAMS_PER_SERVER = 200

Stamp = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Subject:
    """What a page shows, as far as its stamp goes: a kind and its names, in one account and region."""

    account_id: str
    region: str
    kind: str  # account | cluster | task | jobs | job
    names: tuple[str, ...] = ()


def subject_of(page: str, account_id: str, region: str) -> Subject | None:
    """What the console page at ``page`` (a path, maybe with a query) shows; None for no page."""
    path = page.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith(PREFIX + "/"):
        return None
    parts = [part for part in path[len(PREFIX) + 1 :].split("/") if part]
    scope = (account_id, region)
    if parts[:1] == ["clusters"] and len(parts) >= 4 and parts[2] == "tasks":
        return Subject(*scope, "task", (parts[1], parts[3]))
    if parts[:1] == ["clusters"] and len(parts) >= 2:
        return Subject(*scope, "cluster", (parts[1],))
    if parts[:1] == ["jobs"] and len(parts) >= 2:
        return Subject(*scope, "job", (parts[1],))
    if parts[:1] == ["jobs"]:
        return Subject(*scope, "jobs")
    if parts[:1] in (["clusters"], ["task-definitions"]):
        return Subject(*scope, "account")
    return None


def _mine(table: Any, subject: Subject, **equal: str) -> Any:
    """The subject's account and region in ``table``, and each ``column=value`` given."""
    return and_(
        table.c.account_id == subject.account_id,
        table.c.region == subject.region,
        *(table.c[name] == value for name, value in equal.items()),
    )


def _sums(connection: Connection, table: Any, where: Any, *columns: Any) -> Stamp:
    """The count of ``table``'s rows ``where`` holds, and the sums of ``columns`` over them."""
    summed = (func.coalesce(func.sum(column), 0) for column in columns)
    return tuple(connection.execute(select(func.count(), *summed).select_from(table).where(where)).one())


def read_stamp(connection: Connection, subject: Subject) -> Stamp:
    """A tuple that changes whenever what a page of ``subject`` shows changes (and seldom
    otherwise): counts, and sums of versions, over the subject's rows."""
    kind, names = subject.kind, subject.names
    if kind == "account":
        families = task_definition_families
        return (
            _sums(connection, clusters, _mine(clusters, subject), clusters.c.placement_version),
            _sums(connection, tasks, _mine(tasks, subject), tasks.c.version),
            _sums(
                connection,
                families,
                _mine(families, subject),
                families.c.latest_revision,
                families.c.active_revisions,
            ),
        )
    if kind == "task":
        cluster, task_id = names
        return (
            _sums(
                connection,
                tasks,
                _mine(tasks, subject, cluster_name=cluster, task_id=task_id),
                tasks.c.version,
            ),
            connection.execute(
                select(func.max(container_logs.c.id)).where(_mine(container_logs, subject, task_id=task_id))
            ).scalar(),
        )
    if kind == "cluster":
        (cluster,) = names
        own_services = select(services.c.id).where(_mine(services, subject, cluster_name=cluster))
        instances = container_instances
        return (
            _sums(connection, clusters, _mine(clusters, subject, name=cluster), clusters.c.placement_version),
            _sums(connection, tasks, _mine(tasks, subject, cluster_name=cluster), tasks.c.version),
            _sums(
                connection,
                services,
                _mine(services, subject, cluster_name=cluster),
                services.c.version,
                services.c.desired_count,
            ),
            _sums(
                connection,
                service_deployments,
                service_deployments.c.service_id.in_(own_services),
                service_deployments.c.updated_at,
            ),
            _sums(
                connection,
                instances,
                _mine(instances, subject, cluster_name=cluster),
                instances.c.version,
                instances.c.desired_version,
                instances.c.disconnected_at,
            ),
        )
    if kind == "jobs":  # the jobs and their executions (the progress bars)
        return (
            _sums(connection, jobs, _mine(jobs, subject), jobs.c.updated_at),
            _sums(connection, job_items, _mine(job_items, subject), job_items.c.version),
        )
    if kind == "job":
        (job_id,) = names
        job_row = select(jobs.c.id).where(_mine(jobs, subject, job_id=job_id)).scalar_subquery()
        return (
            _sums(connection, jobs, _mine(jobs, subject, job_id=job_id), jobs.c.updated_at),
            _sums(connection, job_items, job_items.c.job_row == job_row, job_items.c.version),
        )
    raise ValueError(f"no stamp for {kind!r}")


def token(stamp: Stamp) -> str:
    """A stamp as a short opaque string, for a page to carry."""
    return hashlib.sha256(repr(stamp).encode()).hexdigest()[:16]


@dataclass
class Watch:
    """One subject's stamp, read once a tick while any stream watches it; ``token`` is empty
    until the first read."""

    subject: Subject
    streams: set[asyncio.Event] = field(default_factory=set)
    token: str = ""
    task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        for event in self.streams:
            event.set()


class Live:
    """The process's event streams and the watches they share."""

    def __init__(self, console: Console, *, tick: float = TICK_SECONDS) -> None:
        self.console = console
        self.tick = tick
        self.watches: dict[Subject, Watch] = {}
        self.by_session: Counter[str] = Counter()
        self.open = 0
        self.stopping = False
        self._stop_events: set[asyncio.Event] = set()
        connections.when_stopping(self.stop)

    def stop(self) -> None:
        """The server is stopping: every stream ends now."""
        self.stopping = True
        for event in self._stop_events:
            event.set()

    async def read_token(self, subject: Subject) -> str:
        reader = Identity("console", subject.account_id, "console")
        stamp = await self.console.server.transact(
            reader, subject.region, lambda ctx: read_stamp(ctx.conn, subject), write=False
        )
        return token(stamp)

    def stamped(
        self, handler: Callable[[Visit], Awaitable[Response]]
    ) -> Callable[[Visit], Awaitable[Response]]:
        """``handler`` with its page's stamp read first, for the page to hand its stream: a change
        after the stamp was read, even before the stream opens, is then announced."""

        async def page(visit: Visit) -> Response:
            session = visit.session
            subject = subject_of(visit.request.url.path, session.account_id, session.region)
            if subject is not None and visit.request.headers.get("x-console-live") is None:
                visit.live_stamp = await self.read_token(subject)
            return await handler(visit)

        return page

    async def endpoint(self, request: Request) -> Response:
        session = self.console.session_of(request)
        if session is None:
            return PlainTextResponse("Not signed in.", status_code=403)
        subject = subject_of(request.query_params.get("page", ""), session.account_id, session.region)
        if subject is None:
            return PlainTextResponse("No live page there.", status_code=404)
        if self.stopping:
            return PlainTextResponse("The server is stopping.", status_code=503)
        if self.open >= STREAMS_PER_SERVER or self.by_session[session.nonce] >= STREAMS_PER_SESSION:
            return PlainTextResponse("Too many live pages open.", status_code=429)
        self.open += 1
        self.by_session[session.nonce] += 1
        return StreamingResponse(
            self._stream(request, session, subject, request.query_params.get("stamp", "")),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    def _release(self, session: sessions.Session) -> None:
        self.open -= 1
        self.by_session[session.nonce] -= 1
        if self.by_session[session.nonce] <= 0:
            del self.by_session[session.nonce]

    async def _stream(
        self, request: Request, session: sessions.Session, subject: Subject, shown: str
    ) -> AsyncIterator[str]:
        """``shown``: the stamp the page was rendered at ("" if unknown: the first read is then
        what it shows)."""
        woken = asyncio.Event()
        self._stop_events.add(woken)
        watch = self._join(subject, woken)
        changes = 0
        try:
            yield "retry: 3000\n\n"
            quiet_since = checked_at = time.monotonic()
            while not self.stopping:
                if watch.token and watch.token != shown:
                    if shown:
                        changes += 1
                        quiet_since = time.monotonic()
                        yield f"event: changed\ndata: {changes}\n\n"
                    shown = watch.token
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), self.tick)
                woken.clear()
                if self.stopping or await request.is_disconnected():
                    return
                now = time.monotonic()
                if now - quiet_since >= HEARTBEAT_SECONDS:
                    quiet_since = now
                    yield ": still here\n\n"
                if now - checked_at >= HEARTBEAT_SECONDS:
                    checked_at = now
                    if self.console.session_of(request) is None:  # signed out elsewhere, or revoked
                        yield "event: signedout\ndata: \n\n"
                        return
        finally:
            self._stop_events.discard(woken)
            self._leave(watch, woken)
            self._release(session)

    def _join(self, subject: Subject, woken: asyncio.Event) -> Watch:
        watch = self.watches.get(subject)
        if watch is None:
            watch = self.watches[subject] = Watch(subject)
            watch.task = asyncio.create_task(self._follow(watch))
        watch.streams.add(woken)
        return watch

    def _leave(self, watch: Watch, woken: asyncio.Event) -> None:
        watch.streams.discard(woken)
        if not watch.streams and self.watches.get(watch.subject) is watch:
            del self.watches[watch.subject]
            if watch.task is not None:
                watch.task.cancel()

    async def _follow(self, watch: Watch) -> None:
        """Read the subject's stamp once a tick; a change (or the first read) wakes its streams."""
        while watch.streams and not self.stopping:
            try:
                fresh = await self.read_token(watch.subject)
            except Exception:
                log.exception("console: reading the stamp of %s failed", watch.subject)
                fresh = watch.token
            if fresh != watch.token:
                watch.token = fresh
                watch.wake()
            await asyncio.sleep(self.tick)
