"""Statements run on the driver's cursor behave as Core runs them (driver.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, event, insert, literal, select, text
from sqlalchemy.exc import IntegrityError, MultipleResultsFound, NoResultFound

from stockapp.core import driver
from stockapp.core.database import read, write_connection, write_transaction
from stockapp.core.extensions import db
from stockapp.history.models import Movement
from stockapp.stock.models import Collection
from stockapp.stock.statements import INSERT_COLLECTION, MEMBER_QUANTITY

MOVEMENT = {
    "collection": "fruit",
    "member": "apple",
    "kind": "adjust",
    "before": 1,
    "after": 2,
    "reason": "recount",
    "by": None,
    "at": datetime(2026, 11, 25, 12, 30, 0, 123456, tzinfo=UTC),
}
# A movement's INSERT, its values as parameters (a datetime among them).
INSERT_MOVEMENTS = insert(Movement.__table__).values(
    {name: bindparam(name) for name in MOVEMENT}
)


def test_a_read_gives_named_rows_like_core(app, seed):
    seed(fruit={"apple": 30})
    with app.app_context():
        rows = read(MEMBER_QUANTITY, collection="fruit", member="apple")
        with db.engine.connect() as connection:
            expected = connection.execute(
                MEMBER_QUANTITY, {"collection": "fruit", "member": "apple"}
            ).all()
    assert [tuple(row) for row in rows] == [tuple(row) for row in expected]
    assert rows[0].quantity == 30
    assert rows[0].version == expected[0].version


def test_a_statement_with_typed_results_runs_through_core(app, seed):
    """A datetime column needs SQLAlchemy's result processing (on SQLite, text
    becomes a datetime): such a statement is not sent to the cursor directly."""
    with app.app_context():
        with write_transaction():
            driver.execute(write_connection(), INSERT_MOVEMENTS, MOVEMENT)
        (row,) = read(select(Movement.at, Movement.reason))
    assert row.at.replace(tzinfo=UTC) == MOVEMENT["at"]
    assert row.reason == "recount"


def test_parameters_are_converted_as_core_converts_them(app):
    """The datetime of a movement is stored exactly as Core would store it."""
    with app.app_context():
        with write_transaction():
            driver.execute(write_connection(), INSERT_MOVEMENTS, MOVEMENT)
            write_connection().execute(insert(Movement).values(MOVEMENT))
        stored = read(text("SELECT CAST(at AS TEXT) AS at FROM movements ORDER BY id"))
    assert stored[0].at == stored[1].at


def test_an_executemany_writes_every_row(app):
    with app.app_context():
        with write_transaction():
            driver.execute_many(
                write_connection(),
                INSERT_MOVEMENTS,
                [{**MOVEMENT, "member": f"m{i}"} for i in range(5)],
            )
        members = read(select(Movement.member).order_by(Movement.id))
    assert [row.member for row in members] == [f"m{i}" for i in range(5)]


def test_a_broken_rule_raises_sqlalchemys_exception(app, seed):
    seed(fruit={"apple": 30})
    with app.app_context():
        with pytest.raises(IntegrityError) as raised, write_transaction():
            driver.execute(
                write_connection(), INSERT_COLLECTION, {"name": "fruit", "version": 1}
            )
        # Nothing half-done stays behind: the transaction was rolled back.
        names = read(select(Collection.name))
    assert raised.value.orig is not None
    assert "INSERT INTO collections" in raised.value.statement
    assert [row.name for row in names] == ["fruit"]


def test_listeners_see_each_statement_once(app, seed, count_statements):
    seed(fruit={"apple": 30})
    with count_statements() as statements, app.app_context():
        read(MEMBER_QUANTITY, collection="fruit", member="apple")
    assert len(statements) == 1
    assert "FROM members JOIN collections" in statements[0]


def test_one_and_one_or_none_count_the_rows(app):
    many = select(bindparam("a", type_=db.Integer)).union_all(
        select(bindparam("b", type_=db.Integer))
    )
    with app.app_context():
        with write_transaction():
            connection = write_connection()
            rows = driver.execute(connection, many, {"a": 1, "b": 2})
            assert [tuple(row) for row in rows] == [(1,), (2,)]
            with pytest.raises(MultipleResultsFound):
                driver.execute(connection, many, {"a": 1, "b": 2}).one_or_none()
            none = driver.execute(
                connection, select(Collection.id).where(Collection.id < 0), {}
            )
            assert none.one_or_none() is None
            with pytest.raises(NoResultFound):
                driver.execute(
                    connection, select(Collection.id).where(Collection.id < 0), {}
                ).one()


@pytest.fixture
def core_executions(app):
    """The statements Core itself executes (the driver's own never pass
    through Core's ``before_execute``)."""
    executed: list[str] = []

    def record(connection, clause, multiparams, params, execution_options):
        executed.append(str(clause))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_execute", record)
    yield executed
    event.remove(engine, "before_execute", record)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/stock/fruit/apple", None, 200),
        ("PATCH", "/stock/fruit", {"apple": 31}, 200),
        ("PUT", "/stock/fruit/apple", 32, 200),
        ("POST", "/stock/fruit/apple/adjustments", {"delta": -1}, 200),
    ],
)
def test_a_member_read_and_a_one_member_write_run_on_the_driver(
    client, seed, core_executions, method, path, body, status
):
    """Core's execution costs tens of µs a statement: the hot paths' every
    statement goes straight to the cursor (on SQLite the transaction's BEGIN
    is the driver's own too)."""
    seed(fruit={"apple": 30})
    core_executions.clear()
    response = client.open(path, method=method, json=body)
    assert response.status_code == status, response.get_json()
    assert [sql for sql in core_executions if "BEGIN" not in sql] == []


# A SELECT, and the same with two more columns after its own.
NAMES = select(Collection.id, Collection.name).order_by(Collection.id)
NAMES_AND_MORE = NAMES.add_columns(
    select(Collection.name).order_by(Collection.id.desc()).limit(1).scalar_subquery(),
    select(Movement.at).limit(1).scalar_subquery(),
)


@pytest.mark.parametrize(
    "through",
    # (Only SQLite's datetime columns need Core: PostgreSQL's driver gives
    # them typed.)
    ["driver", pytest.param("core", marks=pytest.mark.sqlite_only)],
)
def test_split_columns_gives_a_selects_own_rows_and_the_rest(app, seed, through):
    """The rows of a SELECT run with more columns, split: its own rows as it
    gives them alone, and the first row's other values; whether the driver
    or Core ran it (a datetime column sends it through Core on SQLite)."""
    seed(fruit={}, veg={})
    with app.app_context(), db.engine.connect() as connection:
        alone = connection.execute(NAMES).all()
        if through == "driver":
            ran = driver.execute(connection, NAMES.add_columns(literal(7)), {})
            assert isinstance(ran, driver.Rows)
            extra = (7,)
        else:
            ran = driver.execute(connection, NAMES_AND_MORE, {})
            assert not isinstance(ran, driver.Rows)
            extra = ("veg", None)
        rows, values = driver.split_columns(ran, NAMES)
    assert rows.all() == alone and [row.name for row in rows] == ["fruit", "veg"]
    assert rows.all()[0]._fields == ("id", "name")
    assert values == extra


def test_split_columns_of_no_row_gives_no_values(app):
    with app.app_context(), db.engine.connect() as connection:
        ran = driver.execute(connection, NAMES.add_columns(literal(7)), {})
        rows, values = driver.split_columns(ran, NAMES)
    assert (rows.all(), values) == ([], None)
