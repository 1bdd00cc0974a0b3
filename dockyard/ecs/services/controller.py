"""The service scheduler on the controller runtime: a service is due when ``services.due_at``
has come (set by ``wake`` on every write that concerns it, or by the scheduler's own timers);
one leader reconciles due services one at a time, each in its own transaction, as the system
identity of the service's account."""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection, bindparam, select

from dockyard.context import RequestContext
from dockyard.controllers.runtime import system_identity
from dockyard.ecs.services import scheduler, wake
from dockyard.store.schema import service_wakeups, services

if TYPE_CHECKING:
    from dockyard.server_state import ServerState

BATCH = 100  # due services read per look

# Due: a timer came (or the service changed), or another transaction left a wake-up.
_DUE = (
    select(services.c.id, services.c.account_id, services.c.region)
    .where(services.c.due_at <= bindparam("now"))
    .order_by(services.c.due_at)
    .limit(BATCH)
)
_WOKEN = select(services.c.id, services.c.account_id, services.c.region).where(
    services.c.id.in_(select(service_wakeups.c.service_id).distinct().limit(BATCH).scalar_subquery())
)


class ServiceController:
    name = wake.CONTROLLER
    needs_leader = True
    interval = 1.0  # timers and other processes' wake-ups are seen within a second

    def __init__(self, server: ServerState) -> None:
        self.server = server
        self.cpu_seconds = 0.0  # spent inside reconciles (the runtime reports it)

    async def due(self, now: float) -> Sequence[Hashable]:
        def read(connection: Connection) -> list[tuple[int, str, str]]:
            keys = [(row.id, row.account_id, row.region) for row in connection.execute(_DUE, {"now": now})]
            keys += [(row.id, row.account_id, row.region) for row in connection.execute(_WOKEN)]
            return list(dict.fromkeys(keys))

        return await self.server.run_in_store(read)

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, tuple)
        service_id, account_id, region = key

        def timed(ctx: RequestContext) -> float | None:
            started = time.thread_time()
            try:
                return scheduler.reconcile(ctx, service_id)
            finally:
                self.cpu_seconds += time.thread_time() - started

        await self.server.transact(system_identity(account_id, "service-scheduler"), region, timed)
