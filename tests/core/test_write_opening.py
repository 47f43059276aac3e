"""A write transaction's first statements (database.write_statements): on
PostgreSQL its BEGIN waits for them and goes with them in one round trip. It
stays one transaction whatever its first statement is, its statements run in
order, and the pool never gets back a connection that would commit each
statement alone."""

from __future__ import annotations

import time

import psycopg
import pytest
from helpers import libpq_url
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.exc import IntegrityError

from stockapp.core import database, driver
from stockapp.core.database import (
    read,
    transaction_memo,
    write_connection,
    write_statements,
    write_transaction,
)
from stockapp.core.extensions import db
from stockapp.stock.models import Collection
from stockapp.stock.signals import movements_recorded
from stockapp.stock.statements import INSERT_COLLECTION, LOCK_COLLECTION
from stockapp.webhooks.events import _LISTENING as LISTENING


@pytest.fixture(params=["pipeline", "no pipeline"])
def pipeline(request, monkeypatch) -> bool:
    """Whether the driver pipelines: each test runs with and without (a
    libpq older than 14 has no pipeline mode; then the BEGIN goes alone)."""
    if request.param == "no pipeline":
        monkeypatch.setattr(driver, "_has_pipeline", lambda dialect: False)
    return request.param == "pipeline"


def collection_names() -> list[str]:
    return [row.name for row in read(select(Collection.name).order_by(Collection.id))]


INSERT_FRUIT = (INSERT_COLLECTION, {"name": "fruit", "version": 1})


def insert_first_through_write_statements() -> None:
    write_statements(INSERT_FRUIT)


def insert_first_through_core() -> None:
    write_connection().execute(insert(Collection).values(name="fruit", version=1))


def insert_first_through_executemany() -> None:
    driver.execute_many(
        write_connection(), INSERT_COLLECTION, [{"name": "fruit", "version": 1}]
    )


FIRST_STATEMENTS = [
    insert_first_through_write_statements,
    insert_first_through_core,
    insert_first_through_executemany,
]


@pytest.mark.parametrize("first", FIRST_STATEMENTS)
def test_a_write_is_one_transaction_whatever_its_first_statement(app, pipeline, first):
    with app.app_context():
        with pytest.raises(RuntimeError), write_transaction():
            first()
            write_statements((INSERT_COLLECTION, {"name": "veg", "version": 1}))
            raise RuntimeError("the request failed after its writes")
        assert collection_names() == []
        with write_transaction():
            first()
            write_statements((INSERT_COLLECTION, {"name": "veg", "version": 1}))
        assert collection_names() == ["fruit", "veg"]


def test_statements_sent_together_run_in_order(app, pipeline):
    """Each starts once the one before has ended: a read after an insert sees it."""
    with app.app_context():
        with write_transaction():
            inserted, locked = write_statements(
                (INSERT_COLLECTION, {"name": "fruit", "version": 7}),
                (LOCK_COLLECTION, {"name": "fruit"}),
            )
        assert inserted.one().version == 7
        assert locked.one().id == inserted.one().id
        assert collection_names() == ["fruit"]


def test_a_failed_first_statement_raises_cores_error_and_stores_nothing(
    app, seed, pipeline
):
    seed(fruit={"apple": 1})
    with app.app_context():
        with pytest.raises(IntegrityError) as raised, write_transaction():
            write_statements(
                (INSERT_COLLECTION, {"name": "veg", "version": 1}),
                (INSERT_COLLECTION, {"name": "fruit", "version": 1}),
                (INSERT_COLLECTION, {"name": "nuts", "version": 1}),
            )
        assert "INSERT INTO collections" in raised.value.statement
        assert collection_names() == ["fruit"]
        # The next write, on the same pooled connection, is whole.
        with write_transaction():
            write_statements((INSERT_COLLECTION, {"name": "veg", "version": 1}))
        assert collection_names() == ["fruit", "veg"]


def pooled_autocommit() -> bool:
    """Whether the connection the pool hands out next commits each statement."""
    pooled = db.engine.raw_connection()
    try:
        return bool(getattr(pooled.dbapi_connection, "autocommit", False))
    finally:
        pooled.close()


def fail_in_the_first_statements() -> None:
    write_statements((text("SELECT 1 / 0"), {}))


def fail_after_the_first_statements() -> None:
    insert_first_through_write_statements()
    raise RuntimeError("failed after its first statements")


def fail_before_any_statement() -> None:
    raise RuntimeError("failed before any statement")


@pytest.mark.postgresql_only
@pytest.mark.parametrize(
    "write",
    [
        insert_first_through_write_statements,
        insert_first_through_core,
        fail_in_the_first_statements,
        fail_after_the_first_statements,
        fail_before_any_statement,
    ],
)
def test_the_pool_gets_back_no_connection_in_autocommit(app, pipeline, write):
    with app.app_context():
        db.engine.dispose()
        try:
            with write_transaction():
                write()
        except Exception:  # noqa: BLE001 - each way a write ends is the point
            pass
        assert db.engine.pool.checkedin() == 1
        assert pooled_autocommit() is False
        # And the session's transactions are still transactions.
        db.session.execute(insert(Collection).values(name="tea", version=1))
        db.session.rollback()
        assert "tea" not in collection_names()


@pytest.mark.parametrize(
    ("ask", "muted"), [(True, False), (False, False), (True, True)]
)
def test_a_question_asked_when_writes_begin_is_not_asked_again(
    app, count_statements, backend, pipeline, ask, muted
):
    """The webhooks' question (any enabled subscription?): on PostgreSQL it
    rides in the first round trip of a write whose first statements ask for
    it (a write of members), unless the stock's movements are muted, and the
    memo has its answer; on SQLite, without a pipeline, or not asked for,
    nothing is asked as a write begins, and the memo computes it when first
    wanted."""
    computed = []

    def compute() -> str:
        computed.append(True)
        return "computed when wanted"

    with app.app_context(), count_statements() as statements:
        with write_transaction():
            if muted:
                with movements_recorded.muted():
                    write_statements(INSERT_FRUIT, ask=ask)
            else:
                write_statements(INSERT_FRUIT, ask=ask)
            answer = transaction_memo(LISTENING, compute)
    asked = [s for s in statements if "FROM webhook_subscriptions" in s]
    if backend == "sqlite" or not pipeline or not ask or muted:
        assert (answer, computed, asked) == ("computed when wanted", [True], [])
    else:
        assert (answer, computed, len(asked)) == (False, [], 1)


# A question of the test's own: the oldest collection's name (None: none).
OLDEST = "test_oldest_collection"
OLDEST_NAME = select(Collection.name).order_by(Collection.id).limit(1)
# A SELECT a write might begin with: a collection's id and version by name.
BY_NAME = select(Collection.id, Collection.version).where(
    Collection.name == bindparam("name")
)


@pytest.fixture
def oldest_asked(monkeypatch) -> list[str | None]:
    """OLDEST as the only question asked when writes begin; the values its
    answer was given."""
    given: list[str | None] = []

    def answer(value: str | None) -> str:
        given.append(value)
        return f"answered {value}"

    questions = {OLDEST: (OLDEST_NAME, answer, lambda: True)}
    monkeypatch.setattr(database, "_OPENING_QUESTIONS", questions)
    return given


def oldest_when_wanted() -> str:
    return "computed when wanted"


@pytest.mark.sqlite_only
@pytest.mark.parametrize("name", ["veg", "absent"])
def test_on_sqlite_a_question_rides_in_the_select_that_asks(
    app, seed, count_statements, oldest_asked, name
):
    """On SQLite the questions ride in a write's SELECT that asks for them,
    as columns of their own: one statement, its own rows (the question's
    column stripped), and the memo holds the answer. A SELECT that finds no
    row answers nothing: the memo computes its value when first wanted."""
    seed(fruit={}, veg={})
    with app.app_context():
        (alone,) = read(BY_NAME, name=name) or [None]
        with count_statements() as statements, write_transaction():
            (rows,) = write_statements((BY_NAME, {"name": name}), ask=True)
            rows = rows.all()
            answer = transaction_memo(OLDEST, oldest_when_wanted)
            # Asked once a transaction: a second SELECT carries nothing.
            (again,) = write_statements((BY_NAME, {"name": name}), ask=True)
    begin, first, second = statements
    assert begin == "BEGIN IMMEDIATE"
    assert "ORDER BY collections.id" in first
    # Answered, or computed when wanted: not asked again.
    assert "ORDER BY collections.id" not in second
    if name == "absent":
        assert (rows, answer, oldest_asked) == ([], "computed when wanted", [])
        return
    assert rows == [alone] and rows[0]._fields == ("id", "version")
    assert again.all() == rows
    assert (answer, oldest_asked) == ("answered fruit", ["fruit"])


@pytest.mark.sqlite_only
def test_on_sqlite_only_a_select_carries_questions(app, count_statements, oldest_asked):
    """A write that begins with anything but a SELECT asks nothing as it
    begins, even when it asks for the questions."""
    with app.app_context(), count_statements() as statements:
        with write_transaction():
            write_statements(INSERT_FRUIT, ask=True)
            answer = transaction_memo(OLDEST, oldest_when_wanted)
    assert (answer, oldest_asked) == ("computed when wanted", [])
    assert not [s for s in statements if "ORDER BY collections.id" in s]


# Long enough for a statement already sent to have run: the server takes it
# within a millisecond or two of its arrival here.
SENT_WAIT_S = 0.5
ADVISORY_KEY = 4242


def _advisory_lock_held(watcher: psycopg.Connection) -> bool:
    """Whether anyone holds the advisory lock ADVISORY_KEY, as the server
    sees it at the moment, waiting up to SENT_WAIT_S for it to be taken."""
    deadline = time.monotonic() + SENT_WAIT_S
    while True:
        held = watcher.execute(
            "SELECT count(*) FROM pg_locks"
            " WHERE locktype = 'advisory' AND objid = %s AND granted",
            (ADVISORY_KEY,),
        ).fetchone()[0]
        if held or time.monotonic() > deadline:
            return bool(held)
        time.sleep(0.01)


@pytest.mark.postgresql_only
def test_a_pipelines_statements_leave_together_when_it_ends(empty_database_url):
    """driver._queue leaves a statement in the connection's buffer (psycopg's
    execute would send it at once): the server sees none of a pipeline's
    statements until the pipeline ends, then each has run, its rows there."""
    url = libpq_url(empty_database_url)
    with (
        psycopg.connect(url, autocommit=True) as watcher,
        psycopg.connect(url, autocommit=True) as sender,
    ):
        locking, answering = sender.cursor(), sender.cursor()
        with sender.pipeline():
            driver._queue(locking, "SELECT pg_advisory_lock(%s)", (ADVISORY_KEY,))
            driver._queue(answering, "SELECT %s::int + 1", (41,))
            held_before_the_end = _advisory_lock_held(watcher)
        held_after = _advisory_lock_held(watcher)
        assert (held_before_the_end, held_after) == (False, True)
        assert answering.fetchall() == [(42,)]
