"""SQLite's writers of one process take turns before they ask SQLite for its
write lock (core/writer_queue.py); a turn that does not come within
SQLITE_BUSY_TIMEOUT_MS is a 503 Database busy, and the whole wait stays within
that timeout."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from stockapp.core import writer_queue
from stockapp.core.database import (
    write_connection,
    write_statements,
    write_transaction,
)
from stockapp.core.extensions import db
from stockapp.stock.statements import INSERT_COLLECTION

pytestmark = pytest.mark.sqlite_only

# How long a test gives a thread to get as far as it can (never a bound on
# how fast anything runs).
SETTLE_S = 0.3


def insert(name: str) -> None:
    write_statements((INSERT_COLLECTION, {"name": name, "version": 1}))


@contextmanager
def writing_in_a_thread(app, name: str):
    """A write transaction held open in another thread, having inserted
    ``name``, until the block ends; then it commits."""
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with app.app_context(), write_transaction():
            insert(name)
            inside.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join(10)


def test_a_processes_writers_ask_sqlite_one_at_a_time(app, monkeypatch):
    """A writer of the same process waits for its turn before it sends BEGIN
    IMMEDIATE, not in SQLite's busy handler: its BEGIN comes after the
    writer before it has finished."""
    sent: list[tuple[str, str]] = []
    waiting = threading.Event()
    enter = writer_queue.WriterQueue.__enter__

    def entering(queue) -> None:
        if threading.current_thread().name == "second":
            waiting.set()
        enter(queue)

    monkeypatch.setattr(writer_queue.WriterQueue, "__enter__", entering)

    def record(conn, cursor, statement, parameters, context, many) -> None:
        sent.append((threading.current_thread().name, statement.split()[0]))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)

    def second() -> None:
        with app.app_context(), write_transaction():
            insert("veg")

    try:
        with writing_in_a_thread(app, "fruit"):
            writer = threading.Thread(target=second, name="second")
            writer.start()
            assert waiting.wait(10)
            # Time for the second writer to send its BEGIN, were it not waiting.
            writer.join(SETTLE_S)
            assert writer.is_alive()
            sent.append(("test", "released"))
        writer.join(10)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    theirs = [(who, what) for who, what in sent if who in ("second", "test")]
    assert theirs == [("test", "released"), ("second", "BEGIN"), ("second", "INSERT")]


def test_a_turn_that_does_not_come_within_the_busy_timeout_is_a_503(make_app, stored):
    app = make_app(SQLITE_BUSY_TIMEOUT_MS=200)
    client = app.test_client()
    assert client.post("/stock/fruit", json={"apple": 30}).status_code == 201
    with app.app_context():
        engine = db.engine
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, many) -> None:
        if threading.current_thread() is threading.main_thread():
            sent.append(statement)

    with writing_in_a_thread(app, "veg"):
        event.listen(engine, "before_cursor_execute", record)
        started = time.monotonic()
        response = client.patch("/stock/fruit", json={"apple": 5})
        waited = time.monotonic() - started
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "The database is busy; nothing was stored. Try again.",
        "error": "Database busy",
        "request_id": response.headers["X-Request-ID"],
    }
    # It waited its turn for the busy timeout (0.2 s), not for the holder,
    # and never asked SQLite.
    assert waited >= 0.2
    assert not [statement for statement in sent if statement.startswith("BEGIN")]
    assert stored() == {"fruit": {"apple": 30}, "veg": {}}
    assert client.patch("/stock/fruit", json={"apple": 5}).status_code == 200
    assert stored() == {"fruit": {"apple": 5}, "veg": {}}


def busy_timeout_of(connection) -> int:
    dbapi = connection.connection.dbapi_connection
    return dbapi.execute("PRAGMA busy_timeout").fetchone()[0]


def test_a_late_turn_leaves_sqlite_what_is_left_of_the_wait(make_app, monkeypatch):
    """A turn that came after more than SLACK_MS gives SQLite's busy handler
    only the rest of SQLITE_BUSY_TIMEOUT_MS for that write, and the
    connection gets its whole wait back afterwards."""
    app = make_app(SQLITE_BUSY_TIMEOUT_MS=5000)
    enter = writer_queue.WriterQueue.__enter__

    def late(queue) -> None:
        enter(queue)
        queue._waited_ms = 3000.0  # as if the turn had taken 3 s

    timeouts = []
    with app.app_context():
        monkeypatch.setattr(writer_queue.WriterQueue, "__enter__", late)
        with write_transaction():
            insert("fruit")
            timeouts.append(busy_timeout_of(write_connection()))
        monkeypatch.undo()
        with write_transaction():
            insert("veg")
            timeouts.append(busy_timeout_of(write_connection()))
        # Every pooled connection has its whole wait again.
        connections = [db.engine.connect() for _ in range(3)]
        timeouts += [busy_timeout_of(connection) for connection in connections]
        for connection in connections:
            connection.close()
    assert timeouts == [2000, 5000, 5000, 5000, 5000]


def test_a_writer_that_fails_gives_the_turn_back(app):
    with app.app_context():
        with pytest.raises(RuntimeError), write_transaction():
            insert("fruit")
            raise RuntimeError("the write failed")
        with write_transaction():
            insert("veg")
