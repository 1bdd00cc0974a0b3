"""Prebuilt SELECTs run through SQLite's driver (store/direct.py) answer exactly what
SQLAlchemy's own execution answers: the same rows, the same values (JSON documents decoded,
booleans as booleans), the same names; and statements it cannot run directly still work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, delete, func, insert, literal, select, tuple_, update
from sqlalchemy.exc import MultipleResultsFound, NoResultFound

from dockyard.store import direct
from dockyard.store.db import make_engine, sqlite_url, transaction
from dockyard.store.expressions import in_params, in_values, one_of, padded
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


@pytest.mark.parametrize(
    ("statement", "params"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_fetch_gives_the_rows_sqlalchemy_gives(
    engine: Engine, statement: Any, params: dict[str, Any]
) -> None:
    with transaction(engine, write=False) as connection:
        expected = connection.execute(statement, params).all()
        for _ in range(2):  # compiled on first use, then reused
            got = direct.fetch(connection, statement, params)
            assert got == expected  # Row objects compare as their values
            assert [row._mapping.keys() for row in got] == [row._mapping.keys() for row in expected]
            assert [row._fields for row in got] == [row._fields for row in expected]
            assert got.first() == (expected[0] if expected else None)
            assert got.scalar() == (expected[0][0] if expected else None)
            for index, row in enumerate(got):
                for name in row._fields:
                    assert getattr(row, name) == getattr(expected[index], name)


def test_fetch_holds_one_to_exactly_one_row(engine: Engine) -> None:
    by_status = select(_c.name).where(*_OWN, _c.status == bindparam("status"))
    with transaction(engine, write=False) as connection:
        assert direct.fetch(connection, by_status, {**_SCOPE, "status": "INACTIVE"}).one().name == "c1"
        with pytest.raises(MultipleResultsFound):
            direct.fetch(connection, by_status, {**_SCOPE, "status": "ACTIVE"}).one()
        with pytest.raises(NoResultFound):
            direct.fetch(connection, by_status, {**_SCOPE, "status": "DELETED"}).one()


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


# -- writes: each case runs through SQLAlchemy and through the driver, in a transaction rolled
# back after it, and must leave the same rows and report the same counts.


def _cluster(name: str, **overrides: Any) -> dict[str, Any]:
    return {
        "account_id": "111122223333",
        "region": "us-east-1",
        "name": name,
        "arn": f"arn:aws:ecs:us-east-1:111122223333:cluster/{name}",
        "status": "ACTIVE",
        "settings": [{"name": "containerInsights", "value": "disabled"}],
        "capacity_providers": [],
        "default_capacity_provider_strategy": [],
        "tags": [{"key": "k", "value": name}],
        "created_at": 5.5,
        **overrides,
    }


_BY_NAME = (_c.account_id == "111122223333", _c.name == bindparam("row_name"))
WRITES: list[tuple[str, Any, Any]] = [
    ("one row with JSON documents", insert(clusters), _cluster("w0")),
    ("many rows at once", insert(clusters), [_cluster("w1"), _cluster("w2", configuration={"a": [1]})]),
    (
        "a value computed in SQL, many rows",
        update(clusters).where(*_BY_NAME).values(placement_version=_c.placement_version + bindparam("by")),
        [{"row_name": "c0", "by": 2}, {"row_name": "c2", "by": 3}, {"row_name": "none", "by": 1}],
    ),
    (
        "values carried by the statement, a JSON one too",
        update(clusters).where(*_BY_NAME).values(status="DRAINING", tags=[{"key": "x", "value": "y"}]),
        {"row_name": "c1"},
    ),
    (
        "a document given per row",
        update(clusters).where(*_BY_NAME).values(settings=bindparam("given")),
        [{"row_name": "c0", "given": [{"name": "n", "value": "v"}]}],
    ),
    (
        "returning the new value",
        update(clusters)
        .where(*_BY_NAME)
        .values(placement_version=_c.placement_version + 1)
        .returning(_c.placement_version),
        {"row_name": "c2"},
    ),
    (
        "returning nothing matched",
        update(clusters).where(*_BY_NAME).values(status="X").returning(_c.id),
        {"row_name": "none"},
    ),
    ("a delete", delete(clusters).where(*_BY_NAME), [{"row_name": "c0"}, {"row_name": "c1"}]),
]


def _after(connection: Any, statement: Any, rows: Any, through: Any) -> tuple[Any, ...]:
    written = through(connection, statement, rows)
    table = [tuple(row) for row in connection.execute(select(clusters).order_by(_c.name)).all()]
    return written, table


def _through_sqlalchemy(connection: Any, statement: Any, rows: Any) -> direct.Written:
    result = connection.execute(statement, rows)
    returned = result.first() if result.returns_rows else None
    return direct.Written(result.rowcount if returned is None else 1, tuple(returned) if returned else None)


@pytest.mark.parametrize(
    ("statement", "rows"), [case[1:] for case in WRITES], ids=[case[0] for case in WRITES]
)
def test_a_write_on_the_driver_does_what_sqlalchemy_does(engine: Engine, statement: Any, rows: Any) -> None:
    outcomes = []
    for through in (_through_sqlalchemy, direct.write, direct.write):  # compiled, then reused
        with pytest.raises(LookupError), transaction(engine) as connection:
            outcomes.append(_after(connection, statement, rows, through))
            raise LookupError("rolled back")
    assert outcomes[1] == outcomes[0]
    assert outcomes[2] == outcomes[0]
    assert outcomes[0][0].rowcount == (1 if isinstance(rows, dict) else len(rows)) or "none" in str(rows)


@pytest.mark.parametrize(
    ("values", "expected"),
    [([7], [7]), ([1, 2], [1, 2]), ([1, 2, 3], [1, 2, 3, 3]), (list(range(5)), [0, 1, 2, 3, 4, 4, 4, 4])],
    ids=["one stays one", "a power of two stays", "three become four", "five become eight"],
)
def test_an_in_list_is_padded_to_a_power_of_two_with_its_last_value(
    values: list[int], expected: list[int]
) -> None:
    assert padded(values) == expected
