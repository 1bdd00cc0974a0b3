"""The Alembic migrations build exactly the schema the code declares, on both backends, and a
store at the first revision upgrades to the newest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select

from dockyard.store.db import make_engine, sqlite_url
from dockyard.store.migrate import alembic_config, upgrade
from dockyard.store.schema import metadata, tasks
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


PARTIAL_INDEXES = {
    "ix_tasks_client_token",
    "ix_tasks_started_by",
    "ix_tasks_stopped",
    "ix_tasks_service",
    "ix_tasks_deployment",
}


def _index_definitions(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks'"
            )
        else:
            rows = connection.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tasks'"
            )
        return {name: sql or "" for name, sql in rows}


def test_the_indexes_on_mostly_empty_columns_hold_only_the_rows_that_have_them(empty_store: Engine) -> None:
    upgrade(empty_store)
    definitions = _index_definitions(empty_store)
    for name in PARTIAL_INDEXES:
        assert "IS NOT NULL" in definitions[name], (name, definitions[name])
    assert "WHERE" not in definitions["ix_tasks_cluster"]
    unique = [index for index in inspect(empty_store).get_unique_constraints("tasks")]
    assert [constraint["column_names"] for constraint in unique] == [["account_id", "region", "task_id"]]


def test_the_lean_indexes_migrate_down_and_up_with_tasks_in_the_table(empty_store: Engine) -> None:
    config = alembic_config(empty_store)
    with empty_store.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0012_glance_host_loads")
        connection.commit()
        connection.exec_driver_sql(
            "INSERT INTO tasks (account_id, region, cluster_name, task_id, arn, task_definition_arn,"
            " family, launch_type, last_status, desired_status, cpu, memory, ports, gpus, overrides,"
            " containers, attributes, tags, health_status, created_at, version, started_by)"
            " VALUES ('000000000000', 'us-east-1', 'c', 'abc',"
            " 'arn:aws:ecs:us-east-1:000000000000:task/c/abc', 'arn:td', 'f', 'EC2', 'RUNNING', 'RUNNING',"
            " 0, 6, '[]', '[]', '{}', '[]', '{}', '[]', 'UNKNOWN', 1.0, 1, 'me')"
        )
        connection.commit()
        command.upgrade(config, "head")
        connection.commit()
        command.downgrade(config, "0012_glance_host_loads")
        connection.commit()
        assert all("WHERE" not in _index_definitions(empty_store)[name] for name in PARTIAL_INDEXES)
        command.upgrade(config, "head")
        connection.commit()
        started_by = connection.exec_driver_sql("SELECT started_by FROM tasks WHERE task_id = 'abc'").scalar()
    assert started_by == "me"
    assert all("IS NOT NULL" in _index_definitions(empty_store)[name] for name in PARTIAL_INDEXES)


def test_queries_comparing_a_mostly_empty_column_use_its_partial_index(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    queries = {
        "ix_tasks_client_token": select(tasks.c.id).where(
            tasks.c.account_id == "a", tasks.c.region == "r", tasks.c.client_token == "t"
        ),
        "ix_tasks_stopped": select(tasks.c.id).where(
            tasks.c.last_status == "STOPPED", tasks.c.stopped_at < 5
        ),
        "ix_tasks_deployment": select(tasks.c.id).where(tasks.c.deployment_id.in_([1, 2])),
    }
    with engine.connect() as connection:
        for name, query in queries.items():
            compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
            assert any(name in row[-1] for row in plan), name
    engine.dispose()


def test_an_instances_task_queries_use_its_one_index(tmp_path: Path) -> None:
    """A delta frame's range of stamps, and the live tasks counted from the index alone."""
    engine = make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    delta = select(tasks.c.id).where(tasks.c.container_instance_id == 1, tasks.c.frame_version > 5)
    counts = (
        select(tasks.c.container_instance_id, tasks.c.last_status, func.count())
        .where(tasks.c.container_instance_id.in_([1, 2]), tasks.c.last_status.in_(["PENDING", "RUNNING"]))
        .group_by(tasks.c.container_instance_id, tasks.c.last_status)
    )
    expected = {
        "ix_tasks_instance (container_instance_id=? AND frame_version>?)": delta,
        "COVERING INDEX ix_tasks_instance": counts,
    }
    with engine.connect() as connection:
        for wanted, query in expected.items():
            compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
            assert any(wanted in row[-1] for row in plan), (wanted, plan)
    engine.dispose()
