"""Prebuilt SELECTs run through SQLite's driver (store/direct.py) answer exactly what
SQLAlchemy's own execution answers: the same rows, the same values (JSON documents decoded,
booleans as booleans), the same names; and statements it cannot run directly still work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, func, insert, literal, select, tuple_

from dockyard.store import direct
from dockyard.store.db import make_engine, sqlite_url, transaction
from dockyard.store.expressions import in_params, in_values, one_of
from dockyard.store.migrate import upgrade
from dockyard.store.pagination import PagedQuery
from dockyard.store.schema import clusters, container_instances

_c = clusters.c


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    engine = make_engine(sqlite_url(Path(tmp_path_factory.mktemp("direct"))))
    upgrade(engine)
    with transaction(engine) as connection:
        for index, status in enumerate(["ACTIVE", "INACTIVE", "ACTIVE"]):
            connection.execute(
                insert(clusters).values(
                    account_id="111122223333",
                    region="us-east-1",
                    name=f"c{index}",
                    arn=f"arn:aws:ecs:us-east-1:111122223333:cluster/c{index}",
                    status=status,
                    settings=[{"name": "containerInsights", "value": "enabled"}],
                    configuration=None if index else {"executeCommandConfiguration": {"logging": "NONE"}},
                    capacity_providers=[],
                    default_capacity_provider_strategy=[],
                    tags=[{"key": "n", "value": str(index)}],
                    created_at=1700000000.5 + index,
                )
            )
    return engine


_SCOPE = {"account": "111122223333", "region": "us-east-1"}
_OWN = (_c.account_id == bindparam("account"), _c.region == bindparam("region"))
_PAGE = PagedQuery(select(_c.arn, _c.name).where(*_OWN), [_c.name])
CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("a whole row with its JSON documents", select(clusters).where(*_OWN), _SCOPE),
    ("a row by name", select(clusters).where(*_OWN, _c.name == bindparam("name")), {**_SCOPE, "name": "c1"}),
    ("nothing found", select(clusters).where(*_OWN, _c.name == bindparam("name")), {**_SCOPE, "name": "x"}),
    ("values carried by the statement", select(_c.name).where(*_OWN, _c.status == "ACTIVE"), _SCOPE),
    ("a fixed IN list of literals", select(_c.name).where(one_of(_c.status, ("INACTIVE",))), {}),
    (
        "a list bound per item",
        select(_c.name).where(in_params(_c.name, "n", 2)),
        in_values("n", ["c0", "c2"]),
    ),
    ("a count and a label", select(func.count().label("live"), literal(7).label("seven")), {}),
    (
        "a correlated count beside the row",
        select(
            clusters,
            select(func.count())
            .select_from(container_instances)
            .where(container_instances.c.cluster_name == _c.name)
            .scalar_subquery()
            .label("instances"),
        ).where(*_OWN),
        _SCOPE,
    ),
    ("a first page", _PAGE.statement(False, False), {**_SCOPE, "page_size": 2}),
    (
        "a later page, descending",
        _PAGE.statement(True, True),
        {**_SCOPE, "page_size": 2, "page_after_0": "c2"},
    ),
    (
        "a row-value comparison",
        select(_c.name).where(tuple_(_c.name, _c.status) > tuple_(bindparam("a"), bindparam("b"))),
        {"a": "c0", "b": "ACTIVE"},
    ),
    # Not run directly (an expanding parameter): through SQLAlchemy, with the same answer.
    (
        "an expanding IN",
        select(_c.name).where(_c.name.in_(bindparam("names", expanding=True))),
        {"names": ["c1"]},
    ),
]


@pytest.mark.parametrize(
    ("statement", "params"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_the_driver_answers_what_sqlalchemy_answers(
    engine: Engine, statement: Any, params: dict[str, Any]
) -> None:
    with transaction(engine, write=False) as connection:
        expected = connection.execute(statement, params).all()
        for _ in range(2):  # compiled on first use, then reused
            got = direct.execute(connection, statement, params).all()
            assert [tuple(row) for row in got] == [tuple(row) for row in expected]
            assert [row._mapping.keys() for row in got] == [row._mapping.keys() for row in expected]


def test_a_read_sees_the_writes_of_its_own_transaction(engine: Engine) -> None:
    statement = select(_c.name).where(*_OWN, _c.name == bindparam("name"))
    with pytest.raises(LookupError), transaction(engine) as connection:
        connection.execute(
            insert(clusters).values(
                account_id="111122223333",
                region="us-east-1",
                name="fresh",
                arn="arn:aws:ecs:us-east-1:111122223333:cluster/fresh",
                status="ACTIVE",
                settings=[],
                capacity_providers=[],
                default_capacity_provider_strategy=[],
                tags=[],
                created_at=0.0,
            )
        )
        assert direct.execute(connection, statement, {**_SCOPE, "name": "fresh"}).scalar() == "fresh"
        raise LookupError("rolled back")
    with transaction(engine, write=False) as connection:
        assert direct.execute(connection, statement, {**_SCOPE, "name": "fresh"}).first() is None
