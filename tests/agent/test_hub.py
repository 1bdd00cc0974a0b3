"""The agent channel hub on a real store (SQLite and PostgreSQL): signs of life written once a
tick for every connection, never reviving a closed one, and wake-ups for changes made by
another process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select, update

from dockyard.agent_channel.hub import FULL_READ_TICKS, SEEN_REWRITE_SECONDS, ChannelHub
from dockyard.identity import keys
from dockyard.store.db import make_engine, transaction
from dockyard.store.schema import container_instances
from tests.builders import register_instance
from tests.harness import DockyardServer


class FakeConnection:
    def __init__(self, sent_version: int | None, access_key_id: str | None = None) -> None:
        self.sent_version = sent_version
        self.wake = asyncio.Event()
        self.access_key_id = access_key_id
        self.revoked = False


@pytest.fixture
def store(server: DockyardServer) -> Iterator[Engine]:
    engine = make_engine(server.store_url)
    yield engine
    engine.dispose()


def in_store(engine: Engine) -> Callable[[Callable[[Connection], Any]], Any]:
    async def run(work: Callable[[Connection], Any]) -> Any:
        with transaction(engine) as connection:
            return work(connection)

    return run


def row(engine: Engine, instance_id: int) -> Any:
    with transaction(engine, write=False) as connection:
        return connection.execute(
            select(container_instances).where(container_instances.c.id == instance_id)
        ).one()


def set_columns(engine: Engine, instance_id: int, **values: Any) -> None:
    with transaction(engine) as connection:
        connection.execute(
            update(container_instances).where(container_instances.c.id == instance_id).values(**values)
        )


def instance_ids(engine: Engine, ecs: Any, count: int) -> list[int]:
    arns = [register_instance(ecs)["containerInstanceArn"] for _ in range(count)]
    with transaction(engine, write=False) as connection:
        rows = connection.execute(
            select(container_instances.c.id).where(container_instances.c.arn.in_(arns))
        ).all()
    return sorted(r.id for r in rows)


def test_signs_of_life_are_written_together_and_never_revive_a_closed_agent(store: Engine, ecs: Any) -> None:
    ecs.create_cluster(clusterName="default")
    talking, closed = instance_ids(store, ecs, 2)
    set_columns(store, talking, last_seen_at=1_900_000_000.0)  # its connection is open
    set_columns(store, closed, last_seen_at=None)  # its connection closed
    hub = ChannelHub(in_store(store))
    hub.seen(talking, 2_000_000_000.0)
    hub.seen(closed, 2_000_000_000.0)
    asyncio.run(hub.tick())
    assert row(store, talking).last_seen_at == 2_000_000_000.0
    assert row(store, closed).last_seen_at is None


def test_a_busy_agent_signs_of_life_are_written_at_most_every_few_seconds(store: Engine, ecs: Any) -> None:
    ecs.create_cluster(clusterName="default")
    (busy,) = instance_ids(store, ecs, 1)
    set_columns(store, busy, last_seen_at=1_900_000_000.0)
    hub = ChannelHub(in_store(store))
    hub.attach(busy, FakeConnection(None))
    start = 2_000_000_000.0
    written = []
    # A frame every second: each tick has a sign of life to write.
    for second in range(int(3 * SEEN_REWRITE_SECONDS) + 1):
        hub.seen(busy, start + second)
        asyncio.run(hub.tick())
        written.append(row(store, busy).last_seen_at)
    changes = sorted(set(written))
    assert changes[0] == start
    steps = [later - earlier for earlier, later in zip(changes, changes[1:], strict=False)]
    assert steps == [SEEN_REWRITE_SECONDS] * 3
    assert len(changes) == 4  # at 0, 5, 10 and 15 s, not every second
    # Then it falls silent: its last frame is still written, once its turn comes.
    hub.seen(busy, start + 3 * SEEN_REWRITE_SECONDS + 1)
    asyncio.run(hub.tick())
    assert row(store, busy).last_seen_at == start + 3 * SEEN_REWRITE_SECONDS
    hub._written[busy] -= SEEN_REWRITE_SECONDS  # as if the seconds had passed
    asyncio.run(hub.tick())
    assert row(store, busy).last_seen_at == start + 3 * SEEN_REWRITE_SECONDS + 1


def test_a_change_made_elsewhere_wakes_only_the_connections_it_concerns(store: Engine, ecs: Any) -> None:
    ecs.create_cluster(clusterName="default")
    changed, unchanged, deregistered = instance_ids(store, ecs, 3)
    hub = ChannelHub(in_store(store))
    watchers = {i: FakeConnection(row(store, i).desired_version) for i in (changed, unchanged, deregistered)}
    for instance_id, watcher in watchers.items():
        hub.attach(instance_id, watcher)
    set_columns(store, changed, desired_version=row(store, changed).desired_version + 1)
    set_columns(store, deregistered, status="INACTIVE")
    asyncio.run(hub.tick())
    assert watchers[changed].wake.is_set()
    assert not watchers[unchanged].wake.is_set()
    assert watchers[deregistered].wake.is_set()


def test_on_sqlite_the_versions_are_read_again_only_after_a_commit_elsewhere(store: Engine, ecs: Any) -> None:
    ecs.create_cluster(clusterName="default")
    (instance_id,) = instance_ids(store, ecs, 1)
    sqlite = store.dialect.name == "sqlite"

    def bump(connection: Connection) -> None:
        connection.execute(
            update(container_instances)
            .where(container_instances.c.id == instance_id)
            .values(desired_version=container_instances.c.desired_version + 1)
        )

    # The hub's work runs on one connection, as it does in the server's group commit, whose
    # own commits (this process's changes, which its notifier announces) SQLite does not count.
    with store.connect() as own:

        async def on_own(work: Callable[[Connection], Any]) -> Any:
            with own.begin():
                return work(own)

        hub = ChannelHub(on_own)
        watcher = FakeConnection(row(store, instance_id).desired_version)
        hub.attach(instance_id, watcher)
        asyncio.run(hub.tick())
        assert not watcher.wake.is_set()
        with own.begin():
            bump(own)
        asyncio.run(hub.tick())
        assert watcher.wake.is_set() is not sqlite  # PostgreSQL reads every tick
        # Unseen on SQLite until the read every FULL_READ_TICKS ticks.
        ticks = 1
        while not watcher.wake.is_set():
            asyncio.run(hub.tick())
            ticks += 1
            assert ticks <= FULL_READ_TICKS + 1
        watcher.sent_version = row(store, instance_id).desired_version
        watcher.wake.clear()
        # A commit by another connection (another process, another replica) is read at once.
        with transaction(store) as other:
            bump(other)
        asyncio.run(hub.tick())
        assert watcher.wake.is_set()


def test_a_detached_connection_is_neither_watched_nor_written(store: Engine, ecs: Any) -> None:
    ecs.create_cluster(clusterName="default")
    (instance_id,) = instance_ids(store, ecs, 1)
    set_columns(store, instance_id, last_seen_at=1_900_000_000.0)  # connected, until detached
    before = row(store, instance_id)
    hub = ChannelHub(in_store(store))
    watcher = FakeConnection(None)  # would be woken: its version differs
    hub.attach(instance_id, watcher)
    hub.seen(instance_id, 2_000_000_000.0)
    hub.detach(instance_id, watcher)
    asyncio.run(hub.tick())
    assert not watcher.wake.is_set()
    assert row(store, instance_id).last_seen_at == before.last_seen_at


def test_a_revoked_key_stops_only_its_connections_on_a_tick_that_reads_no_versions(
    server: DockyardServer, store: Engine, ecs: Any
) -> None:
    ecs.create_cluster(clusterName="default")
    first, second, third = instance_ids(store, ecs, 3)
    kept, revoked, detached = (server.new_account("210987654321", user_name=n) for n in ("k", "r", "d"))
    with store.connect() as own:  # the hub's connection, as in the group commit

        async def on_own(work: Callable[[Connection], Any]) -> Any:
            with own.begin():
                return work(own)

        hub = ChannelHub(on_own)
        watchers = {
            first: FakeConnection(row(store, first).desired_version, kept.access_key_id),
            second: FakeConnection(row(store, second).desired_version, revoked.access_key_id),
            third: FakeConnection(row(store, third).desired_version, detached.access_key_id),
        }
        for instance_id, watcher in watchers.items():
            hub.attach(instance_id, watcher)
        asyncio.run(hub.tick())  # versions read once; on SQLite not again until a commit elsewhere
        hub.detach(third, watchers[third])
        with own.begin():  # on the hub's own connection: no commit elsewhere
            keys.revoke_key(own, revoked.access_key_id)
            keys.revoke_key(own, detached.access_key_id)
        asyncio.run(hub.tick())
    assert watchers[second].revoked and watchers[second].wake.is_set()
    assert not watchers[first].revoked and not watchers[first].wake.is_set()
    assert not watchers[third].revoked  # no longer watched: its key is not read
