"""The job engine on the controller runtime: a job is due when ``jobs.due_at`` has come (an
item changed, a rollout window opens, a timer runs out, a schedule starts); one leader brings
due jobs forward, each in its own transaction, as the system identity of the job's account.
Everything it needs is in the store, so a new leader (or a restart) goes on where it was.

A job kind whose work is more than a transaction (S3 Batch Operations reads manifests from the
object store and launches tasks) registers its own reconcile in ``KINDS``; the rest (IoT) is
``engine.reconcile`` in one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection, bindparam, select

from dockyard.context import RequestContext
from dockyard.controllers.runtime import system_identity
from dockyard.jobs import engine
from dockyard.store.schema import jobs

if TYPE_CHECKING:
    from dockyard.server_state import ServerState

BATCH = 100

# job kind -> its reconcile of one due job: (server, job row id, account, region).
KINDS: dict[str, Callable[[ServerState, int, str, str], Awaitable[None]]] = {}

_DUE = (
    select(jobs.c.id, jobs.c.account_id, jobs.c.region, jobs.c.kind)
    .where(jobs.c.due_at <= bindparam("now"))
    .order_by(jobs.c.due_at)
    .limit(BATCH)
)


class JobController:
    name = engine.CONTROLLER
    needs_leader = True
    interval = 1.0

    def __init__(self, server: ServerState) -> None:
        self.server = server

    async def due(self, now: float) -> Sequence[Hashable]:
        def read(connection: Connection) -> list[tuple[int, str, str, str]]:
            return [
                (row.id, row.account_id, row.region, row.kind)
                for row in connection.execute(_DUE, {"now": now})
            ]

        return await self.server.run_in_store(read)

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, tuple)
        job_row, account_id, region, kind = key
        own = KINDS.get(kind)
        if own is not None:
            await own(self.server, job_row, account_id, region)
            return

        def work(ctx: RequestContext) -> None:
            engine.reconcile(ctx, job_row)

        await self.server.transact(system_identity(account_id, "job-engine"), region, work)
