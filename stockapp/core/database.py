"""How stockapp uses its database: engine settings per backend, the write
transaction, and the retry of a transaction the database aborted.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from flask import Flask, current_app
from flask_sqlalchemy.session import Session
from sqlalchemy import (
    URL,
    Connection,
    Engine,
    Executable,
    Insert,
    Row,
    Select,
    delete,
    event,
    make_url,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError

from . import driver
from .errors import DATABASE_BUSY, Problem
from .extensions import db
from .instruments import RETRIES

# How a write transaction begins on PostgreSQL: the units of work need READ
# COMMITTED (engine_options says why).
_BEGIN_POSTGRESQL = "BEGIN ISOLATION LEVEL READ COMMITTED"
_SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")

# PostgreSQL's serialization_failure and deadlock_detected: the server rolled the
# transaction back to let a concurrent one finish, and running it again succeeds.
RETRYABLE_SQLSTATES = ("40001", "40P01")
# How many times a unit of work runs before the client is told to come back.
WRITE_ATTEMPTS = 3
# Said of an error of a write's COMMIT: whether it committed is unknown.
_AT_COMMIT = "(raised by the COMMIT)"

# The pg_advisory_xact_lock key migrations/env.py takes, so that of several hosts
# running `flask db upgrade` at once one applies and the others wait; the
# bytes spell "stockapp".
MIGRATION_LOCK_KEY = 0x73746F636B617070

P = ParamSpec("P")
R = TypeVar("R")

# Each backend's waits: (setting, milliseconds per unit, whether 0 waits forever).
# Each must end before gunicorn kills the worker (GUNICORN_TIMEOUT), so that the
# client gets a 503 to retry, not a killed worker's 500.
_POOL_WAITS = (("DATABASE_POOL_TIMEOUT", 1000, False),)
_WAITS = {
    "sqlite": (("SQLITE_BUSY_TIMEOUT_MS", 1, False),),
    "postgresql": (
        *_POOL_WAITS,
        ("DATABASE_CONNECT_TIMEOUT", 1000, True),
        ("DATABASE_LOCK_TIMEOUT_MS", 1, True),
        ("DATABASE_STATEMENT_TIMEOUT_MS", 1, True),
    ),
}
_PREPARED_STATEMENTS = ("on", "off")


def engine_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """The engine options for the configured database, overlaid with the app's own.

    Refuses (RuntimeError) settings the engine cannot honour: a database wait not
    shorter than the worker timeout, or an unknown DATABASE_PREPARED_STATEMENTS.
    """
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    backend = url.get_backend_name()
    check_waits(config, backend)
    options: dict[str, Any] = {}
    if backend != "sqlite":
        options.update(
            pool_size=int(config["DATABASE_POOL_SIZE"]),
            max_overflow=int(config["DATABASE_MAX_OVERFLOW"]),
            pool_timeout=float(config["DATABASE_POOL_TIMEOUT"]),
            pool_pre_ping=bool(config["DATABASE_POOL_PRE_PING"]),
        )
    if backend == "postgresql":
        # The units of work lock the collection row (FOR UPDATE) and then read
        # its members: only READ COMMITTED lets that read see what the previous
        # lock holder committed, whatever the server's default isolation.
        options["isolation_level"] = "READ COMMITTED"
        options["connect_args"] = _postgresql_connect_args(config, url)
    return {**options, **config.get("SQLALCHEMY_ENGINE_OPTIONS", {})}


def check_waits(config: Mapping[str, Any], backend: str) -> None:
    """Refuse to start (RuntimeError) unless each of ``backend``'s database waits
    ends before gunicorn's worker timeout."""
    worker_ms = float(config["GUNICORN_TIMEOUT"]) * 1000
    too_long = []
    for name, unit_ms, zero_is_forever in _WAITS.get(backend, _POOL_WAITS):
        value = config[name]
        if zero_is_forever and float(value) <= 0:
            too_long.append(f"{name}={value} (waits forever)")
        elif float(value) * unit_ms >= worker_ms:
            too_long.append(f"{name}={value}")
    if too_long:
        raise RuntimeError(
            f"{', '.join(too_long)}: each database wait must be shorter than"
            f" GUNICORN_TIMEOUT ({config['GUNICORN_TIMEOUT']} s), so that a request"
            " the database keeps waiting is answered 503, not killed with its worker"
        )


def _postgresql_connect_args(config: Mapping[str, Any], url: URL) -> dict[str, Any]:
    """psycopg's connection arguments: the server's timeouts for each session,
    the connect timeout, and prepared statements on or off."""
    prepared = config["DATABASE_PREPARED_STATEMENTS"]
    if prepared not in _PREPARED_STATEMENTS:
        raise RuntimeError(
            f"DATABASE_PREPARED_STATEMENTS must be one of"
            f" {', '.join(_PREPARED_STATEMENTS)}"
        )
    # Startup options rather than a SET on connect: they cost no round trip,
    # and a pooler in transaction mode would carry a SET to other clients.
    timeouts = (
        f"-c lock_timeout={int(config['DATABASE_LOCK_TIMEOUT_MS'])}"
        f" -c statement_timeout={int(config['DATABASE_STATEMENT_TIMEOUT_MS'])}"
    )
    # Options the URL gives too (?options=...) are kept; the timeouts come last
    # and win.
    given = url.query.get("options")
    if isinstance(given, tuple):
        given = " ".join(given)
    connect_args: dict[str, Any] = {
        "options": f"{given} {timeouts}" if given else timeouts,
        "connect_timeout": int(config["DATABASE_CONNECT_TIMEOUT"]),
    }
    if prepared == "off":
        connect_args["prepare_threshold"] = None
    return connect_args


def configure_engine(app: Flask, engine: Engine) -> None:
    """Give every SQLite connection the settings concurrent workers need.

    PostgreSQL's come with each connection (engine_options' connect_args); its
    row locks and unique indexes serialize the writers.
    """
    if engine.dialect.name == "postgresql":
        event.listen(engine, "handle_error", _close_cursor_of_lost_connection)
    if engine.dialect.name != "sqlite":
        return
    synchronous = str(app.config["SQLITE_SYNCHRONOUS"]).upper()
    if synchronous not in _SYNCHRONOUS_LEVELS:
        raise ValueError(f"SQLITE_SYNCHRONOUS must be one of {_SYNCHRONOUS_LEVELS}")
    busy_timeout_ms = int(app.config["SQLITE_BUSY_TIMEOUT_MS"])

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to begin_sqlite_transaction below: pysqlite's
        # own implicit BEGIN is always DEFERRED. A statement outside a
        # transaction (the one-statement reads) runs on its own snapshot.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()


def _close_cursor_of_lost_connection(context: ExceptionContext) -> None:
    """Close the cursor of a connection found dead, which SQLAlchemy leaves open:
    psycopg warns when a server-side one (a streamed read) is collected open."""
    execution = context.execution_context
    if not context.is_disconnect or execution is None or execution.cursor is None:
        return
    # Whatever closing a dead connection's cursor raises, the request's own
    # error is the one to answer.
    with suppress(Exception):
        execution.cursor.close()


@event.listens_for(Session, "after_begin")
def _on_session_begin(_session: Any, _transaction: Any, connection: Connection) -> None:
    """Begin the ORM session's transactions (reads of several statements) on
    SQLite (see configure_engine); writes go through write_transaction.

    A session event rather than the engine's "begin": engine events would make
    every statement of every connection dispatch them (a hot-path cost).
    """
    if connection.dialect.name == "sqlite":
        begin_sqlite_transaction(connection, write=False)


_BEGIN = text("BEGIN")
_BEGIN_IMMEDIATE = text("BEGIN IMMEDIATE")


def begin_sqlite_transaction(connection: Connection, *, write: bool) -> None:
    """Start SQLite's transaction: a write one takes the write lock up front.

    A deferred transaction that later writes can fail with "database is locked"
    without waiting; an immediate one waits for the lock instead.
    """
    driver.execute(connection, _BEGIN_IMMEDIATE if write else _BEGIN, {})


def read(statement: Executable, **params: Any) -> Sequence[Row[Any]]:
    """The rows of one read statement, run on a connection of its own.

    Outside the ORM session, on the driver's cursor where it can be (see
    driver.py): the hot paths' reads. One statement needs no transaction
    around it to see one snapshot.
    """
    return once_more_if_dropped(lambda: driver.read(db.engine, statement, params))


def once_more_if_dropped(run: Callable[[], R]) -> R:
    """``run()``, and once more if it met a pooled connection the server had
    ended (a restart, a failover, an idle timeout), unless at a write's COMMIT,
    which may have committed: the pool is renewed first, so the second run
    connects afresh. This replaces a pre-ping's round trip
    before every checkout (DATABASE_POOL_PRE_PING). A second failure, such as
    a server that is still down, is the caller's (503 Database unavailable).
    """
    try:
        return run()
    except DBAPIError as error:
        if not error.connection_invalidated or _AT_COMMIT in error.detail:
            raise
    # Every connection pooled before the server went away is as dead.
    db.engine.dispose(close=False)
    return run()


class RowStream:
    """The rows of one read statement, fetched from the database as they are
    iterated, on a connection of their own until ``close()``."""

    def __init__(self, statement: Executable, params: dict[str, Any]) -> None:
        # Run now, in the request: a failure is still an error response.
        self._connection, self._result = once_more_if_dropped(
            lambda: self._start(statement, params)
        )

    @staticmethod
    def _start(statement: Executable, params: dict[str, Any]) -> tuple[Any, Any]:
        connection = db.engine.connect().execution_options(stream_results=True)
        try:
            return connection, connection.execute(statement, params)
        except BaseException:
            connection.close()
            raise

    def __iter__(self) -> Iterator[Row[Any]]:
        try:
            yield from self._result
        finally:
            # All read (or abandoned): the connection goes back at once.
            self.close()

    def close(self) -> None:
        """Give the connection back (the response is sent, or the client left).

        A WSGI server calls it once the response is done; calling it again
        does nothing.
        """
        self._result.close()
        self._connection.close()


def dialect_name() -> str:
    """The database's dialect: "sqlite" or "postgresql"."""
    write = _WRITE.get()
    # In a write, its connection's: a write asks several times, and finding
    # the app's engine takes Flask-SQLAlchemy a few µs each time.
    engine = db.engine if write is None else write.connection
    return str(engine.dialect.name)


@dataclass(slots=True)
class _Write:
    """The current write transaction, as write_transaction keeps it."""

    connection: Connection
    # The buffers and memos its statements fill (transaction_buffer,
    # transaction_memo), by key: (flush, rows), written just before it commits.
    buffers: dict[str, tuple[Callable[[list[Any]], None] | None, list[Any]]]
    # Whether a PostgreSQL transaction's BEGIN still waits to go with its first
    # statements (write_statements).
    begin_pending: bool


# The write transaction of this thread's request (None: none). A context
# variable of its own rather than flask.g: a write asks for it at every
# statement, and each look-up through g's proxy cost about 1 µs, some 25 µs a
# one-member PATCH.
_WRITE: ContextVar[_Write | None] = ContextVar("stockapp_write", default=None)


def write_connection() -> Connection | None:
    """The connection of the current write transaction, for its statements
    (begun, if its BEGIN was still waiting for them); None outside one."""
    write = _WRITE.get()
    if write is None:
        return None
    if write.begin_pending:
        write_statements()
    return write.connection


# Questions a write transaction may ask as it begins: key -> (statement, what
# its value answers, whether it is wanted now). See ask_when_writes_begin.
_OPENING_QUESTIONS: dict[
    str, tuple[Select[Any], Callable[[Any], Any], Callable[[], bool]]
] = {}
# A SELECT with the questions riding in it (SQLite): (statement, questions'
# keys) -> the SELECT with a column per question after its own.
_CARRIERS: dict[tuple[Executable, tuple[str, ...]], Select[Any]] = {}


def ask_when_writes_begin(
    key: str,
    statement: Select[Any],
    answer: Callable[[Any], Any],
    wanted: Callable[[], bool],
) -> None:
    """Have a write transaction whose first statements ask for it
    (``write_statements(..., ask=True)``) ask ``statement``, a SELECT of one
    column and at most one row, with them, if ``wanted()``, and keep
    ``answer(value)`` (value: the column's, None when there is no row) as
    ``transaction_memo(key, ...)``'s value, for the rest of the transaction.

    On PostgreSQL the question runs right after them, in their round trip. On
    SQLite it rides in the first of them, if that is a SELECT, as a column of
    its own (a scalar subquery), which saves a statement; there the write
    lock, held since BEGIN, keeps the answer true until the commit. Unasked
    (the SELECT found no row, say), the memo computes its value when first
    wanted.
    """
    _OPENING_QUESTIONS[key] = (statement, answer, wanted)


def _questions(write: _Write) -> list[tuple[str, Select[Any], Callable[[Any], Any]]]:
    """The questions the current write transaction may ask now."""
    return [
        (key, statement, answer)
        for key, (statement, answer, wanted) in _OPENING_QUESTIONS.items()
        if key not in write.buffers and wanted()
    ]


def write_statements(
    *statements: tuple[Executable, Mapping[str, Any]], ask: bool = False
) -> list[driver.Rows]:
    """Run ``statements`` in order in the current write transaction; their rows.

    On PostgreSQL a write transaction's BEGIN waits for its first statements:
    the BEGIN, they and, with ``ask``, the questions asked when writes begin
    (ask_when_writes_begin) go to the server together and are answered in one
    round trip, where sending each alone would take one each. Each statement
    still starts after the one before has ended, so a read that follows a lock
    sees what the lock's previous holder committed. On SQLite, with ``ask``,
    the questions ride in the first statement.
    """
    write = _WRITE.get()
    connection = write.connection
    if write.begin_pending:
        write.begin_pending = False
        questions = _questions(write) if ask else []
        asked = [(statement, {}) for _, statement, _ in questions]
        answered = driver.pipelined(
            connection, [*statements, *asked], first=_BEGIN_POSTGRESQL
        )
        if answered is None:
            # Not sent together: the BEGIN alone, then each statement.
            connection.exec_driver_sql(_BEGIN_POSTGRESQL)
        else:
            for (key, _, answer), rows in zip(
                questions, answered[len(statements) :], strict=True
            ):
                row = rows.one_or_none()
                _remember(key, answer(None if row is None else row[0]))
            return answered[: len(statements)]
    elif (
        ask
        and connection.dialect.name == "sqlite"
        and isinstance(statements[0][0], Select)
    ):
        questions = _questions(write)
        if questions:
            (first, params), *others = statements
            return [
                _asking_in(connection, first, params, questions),
                *write_statements(*others),
            ]
    return [
        driver.execute(connection, statement, params)
        for statement, params in statements
    ]


def _asking_in(
    connection: Connection,
    statement: Select[Any],
    params: Mapping[str, Any],
    questions: list[tuple[str, Select[Any], Callable[[Any], Any]]],
) -> driver.Rows:
    """Run ``statement`` with ``questions`` riding in it, as columns of their
    own after its own; its rows, without them, and their answers kept."""
    keys = tuple(key for key, _, _ in questions)
    carrier = _CARRIERS.get((statement, keys))
    if carrier is None:
        carrier = _CARRIERS[statement, keys] = statement.add_columns(
            *(question.scalar_subquery() for _, question, _ in questions)
        )
    rows, values = driver.split_columns(
        driver.execute(connection, carrier, params), statement
    )
    if values is not None:
        for (key, _, answer), value in zip(questions, values, strict=True):
            _remember(key, answer(value))
    return rows


def _in_write_transaction() -> bool:
    return _WRITE.get() is not None


def transaction_buffer(key: str, flush: Callable[[list[Any]], None]) -> list[Any]:
    """A list that lives as long as the current write transaction: the first
    call for ``key`` makes it, and ``flush(list)`` runs with it just before
    the outermost transaction commits (never if it rolls back). Rows many
    statements gather are then written in one statement."""
    buffers = _WRITE.get().buffers
    entry = buffers.get(key)
    if entry is None:
        entry = buffers[key] = (flush, [])
    return entry[1]


def transaction_memo(key: str, compute: Callable[[], Any]) -> Any:
    """``compute()``, run once per write transaction (its first call for
    ``key``), inside it."""
    entry = _WRITE.get().buffers.get(key)
    if entry is None:
        return _remember(key, compute())
    return entry[1][0]


def _remember(key: str, value: Any) -> Any:
    """Keep ``value`` as the current write transaction's memo for ``key``."""
    _WRITE.get().buffers[key] = (None, [value])
    return value


@contextmanager
def write_transaction() -> Iterator[None]:
    """Run the block as one write transaction: committed at its end or rolled back.

    Its statements run on ``write_connection()``, a Core connection of its own
    (the ORM session's transaction machinery costs about 40 µs a write); the
    session is another connection, which would wait for this one's lock. Inside
    another write transaction the block joins it, and the outer one commits (an
    idempotent POST stores its response with the write it records).
    """
    if _in_write_transaction():
        yield
        return
    with db.engine.connect() as connection:
        transaction = connection.begin()
        # On PostgreSQL the driver's autocommit is on, so that it sends no BEGIN
        # of its own: write_statements sends it, with the first statements.
        deferred = connection.dialect.name == "postgresql"
        entered = None
        try:
            if deferred:
                driver.set_autocommit(connection, True)
            else:
                begin_sqlite_transaction(connection, write=True)
            write = _Write(connection, {}, deferred)
            entered = _WRITE.set(write)
            yield
            for flush, rows in write.buffers.values():
                if flush is not None:
                    flush(rows)
            try:
                transaction.commit()
            except DBAPIError as error:
                # Whether it committed is unknown: never run it again.
                error.add_detail(_AT_COMMIT)
                raise
        except BaseException:
            transaction.rollback()
            raise
        finally:
            if entered is not None:
                _WRITE.reset(entered)
            if deferred:
                # Committed or rolled back: off again before the pool has it.
                driver.set_autocommit(connection, False)


class WriteRaced(Exception):
    """Raised by a unit of work that met another transaction's commit between
    two of its statements, where the database would not have noticed: its
    transaction rolls back and it runs again, as after a serialization failure
    (retry_serialization_failures)."""

    # What retry_serialization_failures calls it (a serialization failure's).
    sqlstate = RETRYABLE_SQLSTATES[0]


def _retryable(error: Exception) -> str | None:
    """The SQLSTATE for which ``error``'s unit of work runs again, or None."""
    if isinstance(error, WriteRaced):
        return error.sqlstate
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    return sqlstate if sqlstate in RETRYABLE_SQLSTATES else None


def retry_serialization_failures(unit_of_work: Callable[P, R]) -> Callable[P, R]:
    """Run ``unit_of_work`` again when the database aborts its transaction to
    resolve a conflict with another one; answer 503 after ``WRITE_ATTEMPTS`` runs.

    The unit of work must be whole: its own ``write_transaction()`` rolled back,
    so a run repeats nothing a failed one did. Called inside another write
    transaction, it runs once: the database aborted that whole transaction, so
    only the outer unit of work, which must be retried too, can run it again.
    """

    @functools.wraps(unit_of_work)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if _in_write_transaction():
            return unit_of_work(*args, **kwargs)
        attempt = 1
        while True:
            try:
                # Before its commit, a write that met an ended connection
                # stored nothing: it runs again on a new one.
                return once_more_if_dropped(lambda: unit_of_work(*args, **kwargs))
            except (DBAPIError, WriteRaced) as error:
                sqlstate = _retryable(error)
                if sqlstate is None:
                    raise
                if attempt == WRITE_ATTEMPTS:
                    current_app.logger.warning(
                        "%s aborted %d times (SQLSTATE %s); giving up",
                        unit_of_work.__name__,
                        attempt,
                        sqlstate,
                    )
                    raise Problem(
                        503,
                        DATABASE_BUSY,
                        "Concurrent writes kept conflicting; nothing was stored."
                        " Try again.",
                        headers={"Retry-After": "1"},
                    ) from error
            # A random pause, so that the two sides of a deadlock do not meet again.
            time.sleep(random.uniform(0, 0.01 * attempt))
            attempt += 1
            RETRIES.inc()

    return run


def insert_ignoring_conflict(model: type) -> Insert:
    """An INSERT into ``model`` that does nothing when a unique key already exists."""
    insert = postgresql.insert if dialect_name() == "postgresql" else sqlite.insert
    return insert(model).on_conflict_do_nothing()


def delete_in_batches(model: Any, condition: Any, batch_size: int) -> int:
    """Delete the rows of ``model`` that meet ``condition``, oldest id first,
    ``batch_size`` per short transaction (writers wait for one batch at most);
    how many were deleted."""
    deleted = 0
    while True:
        with write_transaction():
            oldest = (
                select(model.id).where(condition).order_by(model.id).limit(batch_size)
            )
            count = (
                write_connection()
                .execute(delete(model).where(model.id.in_(oldest)))
                .rowcount
            )
        deleted += count
        if count < batch_size:
            return deleted
