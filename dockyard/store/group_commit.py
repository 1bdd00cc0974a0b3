"""Group commit for SQLite: the writes that arrive together share one transaction and one fsync.

With ``synchronous=FULL`` every SQLite commit waits for an fsync of the WAL, and SQLite takes
one writer at a time anyway; one transaction per request would spend most of a busy server's
time in fsyncs, one after the other, with the event loop stopped. So the requests that write
queue here, and a leader takes all of them that are queued at its turn as one batch:

- one ``BEGIN IMMEDIATE``; each request in a savepoint of its own, so one that fails is
  rolled back alone and leaves nothing behind, exactly as if it had its own transaction;
- one ``COMMIT`` (its fsync), after which the event loop reads the requests that arrived
  meanwhile; they form the next batch (committing from a worker thread instead, so the loop
  could read during the fsync, measured slower: the thread hop cost more than it hid);
- only then is any request of the batch answered: nothing is acknowledged before it is
  durable. If the commit fails, every request of the batch fails, and ``on_lost`` lets the
  server drop what it derived from their uncommitted writes (in-memory caches).

A request in a batch sees the writes of the requests before it in the same batch, as it
would have seen them committed one transaction earlier. PostgreSQL needs none of this: its
requests run in threads, each in its own transaction, and its commits already overlap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

T = TypeVar("T")
Work = Callable[[Connection], Any]
Item = tuple[Work, Callable[[], None], "asyncio.Future[Any]"]


class GroupCommit:
    """Runs write work on one SQLite connection, batched as described above."""

    def __init__(self, engine: Engine, on_lost: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self.on_lost = on_lost
        self._queue: list[Item] = []
        self._leader: asyncio.Task[None] | None = None
        self._connection: Connection | None = None
        self.batches = 0  # how many commits, and how many requests they carried: for benchmarks
        self.requests = 0

    async def run(self, work: Callable[[Connection], T], settled: Callable[[], None] = lambda: None) -> T:
        """Run ``work`` in a savepoint of the next batch; its result once the batch committed.

        ``settled`` runs right after the savepoint is released, before the next request of the
        batch. An exception ``work`` raises is raised here, and its savepoint rolled back.
        """
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((work, settled, future))
        if self._leader is None:
            self._leader = asyncio.create_task(self._lead())
        result: T = await future
        return result

    async def _lead(self) -> None:
        try:
            while self._queue:
                await asyncio.sleep(0)  # the requests the loop has read by now join this batch
                batch, self._queue = self._queue, []
                await self._commit(batch)
        finally:
            self._leader = None

    async def _commit(self, batch: list[Item]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        try:
            connection = self._connect()
            raw: Any = connection.connection.dbapi_connection
            raw.execute("BEGIN IMMEDIATE")
            transaction = connection.begin()
            try:
                for work, settled, future in batch:
                    # Each request's savepoint straight through the driver: SQLAlchemy's
                    # begin_nested compiles its SAVEPOINT and RELEASE anew every time.
                    raw.execute("SAVEPOINT request")
                    try:
                        result = work(connection)
                    except BaseException as error:  # the request's own failure: only it is undone
                        raw.execute("ROLLBACK TO request")
                        raw.execute("RELEASE request")
                        outcomes.append((future, False, error))
                    else:
                        raw.execute("RELEASE request")
                        settled()
                        outcomes.append((future, True, result))
                transaction.commit()
            except BaseException:
                if transaction.is_active:
                    transaction.rollback()
                raise
        except BaseException as error:
            self._discard_connection()
            self.on_lost()
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(error if isinstance(error, Exception) else RuntimeError(str(error)))
            if not isinstance(error, Exception):
                raise
            return
        self.batches += 1
        self.requests += len(batch)
        for future, ok, value in outcomes:
            if future.done():  # the caller went away (cancelled); its work is committed regardless
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _connect(self) -> Connection:
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            self._connection = self.engine.connect()
        return self._connection

    def _discard_connection(self) -> None:
        # Invalidated, not returned to the pool: a failed COMMIT can leave SQLite inside the
        # transaction, and the next batch must start on a clean connection.
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            finally:
                self._connection = None
