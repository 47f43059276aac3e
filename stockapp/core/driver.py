"""The hot paths' statements, compiled once and run on the driver's cursor.

Core execution costs about 30 µs a statement here (an execution context, a
result object, their bookkeeping), ten times what SQLite takes to run one of
these index lookups. A statement whose values SQLAlchemy would pass through
unchanged is compiled once per dialect and run on the pooled DBAPI connection
instead: the same SQL text, the same bind processing, SQLAlchemy's own
exceptions, and its ``before_cursor_execute`` event for whoever listens. A
statement that needs more of Core (typed results, Python-side defaults,
expanding parameters) runs through Core as before.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound


class Rows:
    """What a statement returned: its rows (named tuples) and its row count."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return self._rows

    def one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none")
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        row = self.one_or_none()
        if row is None:
            raise NoResultFound("No row was found when one was required")
        return row


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # The parameters' order for a positional paramstyle (SQLite's "?"); None
    # for a named one (psycopg's "%(name)s").
    positions: tuple[str, ...] | None
    # Values the statement carries itself (the 1 of "version + 1").
    defaults: Mapping[str, Any]
    # (name, function) for each parameter SQLAlchemy converts on the way in
    # (a datetime to SQLite's text, say).
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    # The result rows' type; None: known once the statement has run.
    row: type | None

    def parameters(self, given: Mapping[str, Any]) -> Any:
        values = {**self.defaults, **given}
        for name, process in self.processors:
            values[name] = process(values[name])
        if self.positions is None:
            return values
        return [values[name] for name in self.positions]

    def rows(self, cursor: Any) -> Rows:
        row = self.row
        if row is None:
            # (A description costs psycopg an object per column: asked only
            # of a statement whose columns are not known before it runs.)
            description = cursor.description
            if description is None:
                return Rows([], cursor.rowcount)
            row = _row_type(tuple(column[0] for column in description))
        make = row._make  # type: ignore[attr-defined]
        return Rows([make(values) for values in cursor.fetchall()], cursor.rowcount)


@functools.cache
def _row_type(names: tuple[str, ...]) -> type:
    """A row type named after the columns (a textual statement's, known only
    once it has run)."""
    return namedtuple("Row", names, rename=True)


def split_columns(
    rows: Any, statement: Executable
) -> tuple[Rows, tuple[Any, ...] | None]:
    """The rows of ``statement`` run with more columns after its own (see
    database.write_statements), as execute gave them: its rows as it gives
    them, and the first row's other values (None when there is no row)."""
    every = rows.all()
    rowcount = rows.rowcount
    if not every:
        return Rows([], rowcount), None
    own: Any = _own_row_type(statement)
    width, make = len(own._fields), own._make
    return Rows([make(row[:width]) for row in every], rowcount), tuple(every[0][width:])


@functools.cache
def _own_row_type(statement: Any) -> type:
    return _row_type(tuple(column.key for column in statement.exported_columns))


# Statements are built once (module level, or once per dialect), so this holds
# a few dozen entries; None marks a statement that needs Core.
_COMPILED: dict[tuple[Executable, str], _Compiled | None] = {}


def _compiled(statement: Executable, dialect: Dialect) -> _Compiled | None:
    key = (statement, dialect.name)
    try:
        return _COMPILED[key]
    except KeyError:
        compiled = _COMPILED[key] = _compile(statement, dialect)
        return compiled


def _compile(statement: Executable, dialect: Dialect) -> _Compiled | None:
    """``statement`` ready for the cursor, or None if it needs Core's execution."""
    compiled: Any = statement.compile(dialect=dialect)
    # (Python-side column defaults, or parameters rendered at execution.)
    if (
        compiled.insert_prefetch
        or compiled.update_prefetch
        or "POSTCOMPILE" in compiled.string
    ):
        return None
    columns = list(getattr(statement, "exported_columns", ()))
    if any(
        column.type.dialect_impl(dialect).result_processor(dialect, None) is not None
        for column in columns
    ):
        return None
    processors = []
    defaults = {}
    for name, bind in compiled.binds.items():
        if not bind.required:
            defaults[name] = bind.effective_value
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((name, process))
    row = None
    if columns:
        row = _row_type(tuple(column.key for column in columns))
    positions = compiled.positiontup
    return _Compiled(
        compiled.string,
        None if positions is None else tuple(positions),
        defaults,
        tuple(processors),
        row,
    )


def _announce(
    engine: Engine,
    connection: Connection | None,
    cursor: Any,
    sql: str,
    parameters: Any,
    many: bool,
) -> None:
    """Tell ``before_cursor_execute`` listeners (statement counters, tracers)."""
    for listener in engine.dispatch.before_cursor_execute:
        listener(connection, cursor, sql, parameters, None, many)


def _wrapped(
    error: Exception,
    sql: str,
    parameters: Any,
    dialect: Dialect,
    dbapi_connection: Any,
    cursor: Any,
    invalidate: Callable[[BaseException], None],
) -> DBAPIError:
    """The SQLAlchemy exception Core would raise for the driver's ``error``;
    a lost connection is invalidated, as Core does."""
    lost = dialect.is_disconnect(error, dbapi_connection, cursor)
    if lost:
        invalidate(error)
    return DBAPIError.instance(
        sql,
        parameters,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=lost,
        dialect=dialect,
    )


def execute(
    connection: Connection, statement: Executable, params: Mapping[str, Any]
) -> Any:
    """Run ``statement`` on ``connection`` (in its transaction); its rows."""
    compiled = _compiled(statement, connection.dialect)
    if compiled is None:
        return connection.execute(statement, dict(params))
    return _run(
        connection.engine,
        connection,
        connection.connection,
        compiled,
        compiled.parameters(params),
        many=False,
    )


def execute_many(
    connection: Connection,
    statement: Executable,
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """Run ``statement`` once per parameter set in ``rows``, as one executemany."""
    compiled = _compiled(statement, connection.dialect)
    if compiled is None:
        connection.execute(statement, [dict(row) for row in rows])
        return
    _run(
        connection.engine,
        connection,
        connection.connection,
        compiled,
        [compiled.parameters(row) for row in rows],
        many=True,
    )


def read(engine: Engine, statement: Executable, params: Mapping[str, Any]) -> Any:
    """The rows of one read statement, on a pooled connection of its own.

    No transaction around it: one statement sees one snapshot by itself.
    """
    compiled = _compiled(statement, engine.dialect)
    if compiled is None:
        with engine.connect() as connection:
            return connection.execute(statement, dict(params)).all()
    pooled = engine.raw_connection()
    # On PostgreSQL the statement runs in autocommit: no BEGIN before it and no
    # ROLLBACK when the connection goes back to the pool, one round trip, not
    # three. (Set and reset on the client only; never left on, as a write
    # transaction on this connection needs it off.)
    autocommit = engine.dialect.name == "postgresql"
    try:
        if autocommit:
            pooled.dbapi_connection.autocommit = True
        parameters = compiled.parameters(params)
        return _run(engine, None, pooled, compiled, parameters, many=False).all()
    finally:
        if autocommit and pooled.dbapi_connection is not None:
            pooled.dbapi_connection.autocommit = False
        # Back to the pool, which ends any transaction the driver began.
        pooled.close()


def _run(
    engine: Engine,
    connection: Connection | None,
    pooled: Any,
    compiled: _Compiled,
    parameters: Any,
    *,
    many: bool,
) -> Rows:
    """Run ``compiled`` on a cursor of ``pooled``, the DBAPI connection (of
    ``connection``, when there is a Core one)."""
    dialect = engine.dialect
    cursor = pooled.cursor()
    try:
        _announce(engine, connection, cursor, compiled.sql, parameters, many)
        if many:
            # (Its rows, if the statement returns any, are not asked for.)
            cursor.executemany(compiled.sql, parameters)
            return Rows([], cursor.rowcount)
        cursor.execute(compiled.sql, parameters)
        return compiled.rows(cursor)
    except dialect.loaded_dbapi.Error as error:
        # A lost connection is invalidated where Core would: on the Core
        # connection when there is one, else in the pool.
        invalidate = pooled.invalidate if connection is None else connection.invalidate
        raise _wrapped(
            error,
            compiled.sql,
            parameters,
            dialect,
            pooled.dbapi_connection,
            cursor,
            invalidate,
        ) from error
    finally:
        cursor.close()


def pipelined(
    connection: Connection,
    statements: Sequence[tuple[Executable, Mapping[str, Any]]],
    *,
    first: str,
) -> list[Rows] | None:
    """Send ``first`` (a command such as a BEGIN, with no parameters and no
    rows), then each of ``statements`` in order, all at once, and wait for
    their answers once: one round trip, where running them one by one takes
    one each (psycopg's pipeline mode). Each statement runs after the one
    before it has ended, as it would alone. Their rows; None, having sent
    nothing, where one of them needs Core or the driver has no pipeline.

    The first error ends the round trip, skips the statements after it, and is
    raised as Core would raise it.
    """
    dialect = connection.dialect
    compiled = [_compiled(statement, dialect) for statement, _ in statements]
    if None in compiled or not _has_pipeline(dialect):
        return None
    parameters = [
        each.parameters(params)
        for each, (_, params) in zip(compiled, statements, strict=True)
    ]
    pooled = connection.connection
    dbapi_connection = pooled.dbapi_connection
    opening = dbapi_connection.cursor()
    cursors: list[Any] = []
    try:
        with dbapi_connection.pipeline():
            _queue(opening, first, None, prepare=False)
            for each, values in zip(compiled, parameters, strict=True):
                cursor = dbapi_connection.cursor()
                cursors.append(cursor)
                _announce(
                    connection.engine, connection, cursor, each.sql, values, False
                )
                _queue(cursor, each.sql, values)
            # Leaving the pipeline sends them all, with its Sync, and waits.
        return [
            each.rows(cursor) for each, cursor in zip(compiled, cursors, strict=True)
        ]
    except dialect.loaded_dbapi.Error as error:
        raise _wrapped(
            error,
            ";\n".join([first, *(each.sql for each in compiled)]),
            parameters,
            dialect,
            dbapi_connection,
            opening,
            connection.invalidate,
        ) from error
    finally:
        for cursor in (opening, *cursors):
            cursor.close()


def _queue(cursor: Any, sql: str, values: Any, prepare: bool | None = None) -> None:
    """What psycopg's ``cursor.execute(sql, values)`` does in pipeline mode,
    but leaving the statement in the connection's buffer.

    Its ``execute`` sends each statement as it comes, one packet each, and
    each packet wakes the server's backend, which runs it and waits for the
    next (on a machine where the app and the database share cores, a switch
    there and back per statement). Queued, a pipeline's statements leave in
    one packet with its Sync, as libpq's pipeline mode means them to (what
    it saves: docs/performance.md). psycopg has no public call for it, so
    this runs the steps of its own ``Cursor._execute_gen`` (psycopg 3.3,
    pinned), all but the send; ``tests/core/test_write_opening.py`` pins that
    the server sees none of a pipeline's statements before it ends.
    """
    connection = cursor.connection

    def steps() -> Iterator[Any]:
        yield from cursor._start_query(sql)
        query = cursor._convert_query(sql, values)
        # Prepares it (psycopg's prepare_threshold) or not, as execute would.
        yield from cursor._maybe_prepare_gen(query, prepare=prepare)
        cursor._last_query = sql
        # Statements its prepared-statement cache let go (DEALLOCATE).
        yield from connection._prepared.maintain_gen(connection)

    with connection.lock:
        connection.wait(steps())


@functools.cache
def _has_pipeline(dialect: Dialect) -> bool:
    """Whether the driver can pipeline (psycopg over libpq 14 or later)."""
    pipeline = getattr(dialect.loaded_dbapi, "Pipeline", None)
    return pipeline is not None and bool(pipeline.is_supported())


def set_autocommit(connection: Connection, on: bool) -> None:
    """Turn the driver's autocommit on or off for ``connection`` (on the
    client only: no round trip). A connection it cannot be turned off on, say
    one left in a transaction, is invalidated: the pool must never hand out a
    connection whose statements would each commit alone."""
    if connection.invalidated:
        return
    dbapi_connection = connection.connection.dbapi_connection
    try:
        dbapi_connection.autocommit = on
    except connection.dialect.loaded_dbapi.Error:
        if on:
            raise
        connection.invalidate()
