"""The Alembic migrations build exactly the schema the code declares, on both backends, and a
store at the first revision upgrades to the newest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from dockyard.store.db import make_engine, sqlite_url
from dockyard.store.migrate import alembic_config, upgrade
from dockyard.store.schema import metadata
from tests.conftest import BACKENDS, database_url_for
from tests.harness import drop_postgres_database


@pytest.fixture(params=BACKENDS)
def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = database_url_for(request.param) or sqlite_url(tmp_path)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        drop_postgres_database(url)


def test_the_migrations_build_the_declared_schema(empty_store: Engine) -> None:
    upgrade(empty_store)
    with empty_store.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_a_store_at_the_first_revision_upgrades_to_the_newest(empty_store: Engine) -> None:
    config = alembic_config(empty_store)
    with empty_store.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.commit()
    assert "ix_tasks_cluster_status" not in {
        index["name"] for index in inspect(empty_store).get_indexes("tasks")
    }
    upgrade(empty_store)
    assert "ix_tasks_cluster_status" in {index["name"] for index in inspect(empty_store).get_indexes("tasks")}
