"""How stockapp uses its database: SQLite settings and the write transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import Engine, Insert, event
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db

# Set on the connection of a write transaction; SQLite then begins it with
# BEGIN IMMEDIATE, taking the write lock up front.
_WRITE_OPTION = "stockapp_write"
_SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


def configure_engine(app: Flask, engine: Engine) -> None:
    """Give every SQLite connection the settings concurrent workers need."""
    if engine.dialect.name != "sqlite":
        return
    synchronous = str(app.config["SQLITE_SYNCHRONOUS"]).upper()
    if synchronous not in _SYNCHRONOUS_LEVELS:
        raise ValueError(f"SQLITE_SYNCHRONOUS must be one of {_SYNCHRONOUS_LEVELS}")
    busy_timeout_ms = int(app.config["SQLITE_BUSY_TIMEOUT_MS"])

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below:
        # pysqlite's own implicit BEGIN is always DEFERRED.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        # A deferred transaction that later writes can fail with "database is
        # locked" without waiting; an immediate one waits for the lock instead.
        writes = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


@contextmanager
def write_transaction() -> Iterator[None]:
    """Run the block as one write transaction: committed at its end or rolled back.

    Inside another write transaction the block joins it, and the outer one
    commits (an idempotent POST stores its response with the write it records).
    """
    session = db.session()
    if session.info.get(_WRITE_OPTION):
        yield
        return
    if session.in_transaction():
        raise RuntimeError("a write transaction must be the session's first")
    session.connection(execution_options={_WRITE_OPTION: True})
    session.info[_WRITE_OPTION] = True
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        del session.info[_WRITE_OPTION]


def insert_ignoring_conflict(model: type) -> Insert:
    """An INSERT into ``model`` that does nothing when a unique key already exists."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(model).on_conflict_do_nothing()
