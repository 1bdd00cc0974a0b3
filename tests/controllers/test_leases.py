"""Controller leadership: one holder at a time, taken over once it lapses, given up at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dockyard.controllers import leases
from dockyard.store.db import make_engine, sqlite_url, transaction
from dockyard.store.migrate import upgrade
from tests.conftest import BACKENDS, database_url_for
from tests.harness import drop_postgres_database


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = database_url_for(request.param) or sqlite_url(tmp_path)
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        drop_postgres_database(url)


def hold(engine: Engine, holder: str, now: float) -> bool:
    with transaction(engine) as connection:
        return leases.try_hold(connection, "services", holder, now)


def test_one_holder_at_a_time_until_the_lease_lapses(store: Engine) -> None:
    assert hold(store, "a", 100.0)
    assert not hold(store, "b", 101.0)
    assert hold(store, "a", 102.0), "the holder renews"
    assert not hold(store, "b", 102.0 + leases.LEASE_SECONDS - 0.5)
    assert hold(store, "b", 102.0 + leases.LEASE_SECONDS + 0.5), "a lapsed lease is taken over"
    assert not hold(store, "a", 102.0 + leases.LEASE_SECONDS + 1)


def test_a_released_lease_is_free_at_once(store: Engine) -> None:
    assert hold(store, "a", 100.0)
    with transaction(store) as connection:
        leases.release(connection, "services", "b")  # not b's to give
    assert not hold(store, "b", 100.5)
    with transaction(store) as connection:
        leases.release(connection, "services", "a")
    assert hold(store, "b", 100.5)
