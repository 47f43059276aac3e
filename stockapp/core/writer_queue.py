"""SQLite's writers of one process take their turns in the process first.

SQLite lets one connection write at a time. A writer that finds the write lock
taken waits in SQLite's busy handler, which polls: it sleeps 1, 2, 5, 10 ms and
more between tries. Under load the lock is then often free while every waiter
sleeps, and each try costs the waiter system calls and the GIL. So the writers
of one process (gunicorn's threads) queue on a lock of their own before they
ask SQLite, each woken as soon as the one before it is done: only one writer
per process waits in SQLite's busy handler, which is left to arbitrate between
processes (gunicorn's workers).

Under ``make bench``'s one-member ``PATCH`` (2 workers x 4 threads, 8
connections, on one core), alternated runs with and without the queue gave
about 700 against 590 requests/s, at 1.27 against 1.60 ms of CPU per request.

A writer waits at most SQLITE_BUSY_TIMEOUT_MS in all: if its turn came after
more than ``SLACK_MS``, SQLite's busy handler gets only what is left of that
(a PRAGMA before its BEGIN, and one after to put the full wait back). Past the
wait it gets SQLite's own "database is locked" error, answered 503 Database
busy (core/errors.py).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

# How much longer than SQLITE_BUSY_TIMEOUT_MS a write may wait in all: a turn
# that came sooner leaves SQLite's busy handler its whole wait (no PRAGMA).
SLACK_MS = 50
# Where a writer that waited too long for its turn says it failed: what SQLite
# says of a write lock that stayed taken past its busy timeout.
_BUSY = "database is locked"


class WriterQueue:
    """The turn to write to one SQLite database, in this process: held from
    ``with`` (a wait of at most the busy timeout) to the block's end. Only its
    holder calls its methods."""

    __slots__ = ("_lock", "_timeout_ms", "_waited_ms", "_shortened")

    def __init__(self, timeout_ms: int) -> None:
        self._lock = threading.Lock()
        self._timeout_ms = max(0, timeout_ms)
        self._waited_ms = 0.0
        self._shortened = False

    def __enter__(self) -> None:
        started = time.monotonic()
        if not self._lock.acquire(timeout=self._timeout_ms / 1000):
            raise OperationalError(
                "BEGIN IMMEDIATE", {}, sqlite3.OperationalError(_BUSY)
            )
        self._waited_ms = (time.monotonic() - started) * 1000

    def __exit__(self, *_exc: Any) -> None:
        self._lock.release()

    def wait_for_sqlite(self, connection: Connection) -> None:
        """Before BEGIN on ``connection``: leave SQLite's busy handler only
        what is left of the wait, if the turn took more than SLACK_MS."""
        self._shortened = self._waited_ms > SLACK_MS
        if self._shortened:
            left_ms = max(1, int(self._timeout_ms - self._waited_ms))
            _busy_timeout(connection, left_ms)

    def done_with_sqlite(self, connection: Connection) -> None:
        """After the transaction: the connection's full wait back (or, if
        that fails, the connection out of the pool)."""
        if not self._shortened:
            return
        self._shortened = False
        try:
            _busy_timeout(connection, self._timeout_ms)
        except Exception:  # noqa: BLE001 - the request's own error comes first
            connection.invalidate()


def _busy_timeout(connection: Connection, timeout_ms: int) -> None:
    connection.connection.dbapi_connection.execute(f"PRAGMA busy_timeout={timeout_ms}")


class _NoQueue:
    """PostgreSQL's writers lock the rows they write, and writers of other
    rows run together: no turn to wait for."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_exc: Any) -> None:
        return None

    def wait_for_sqlite(self, connection: Connection) -> None:
        return None

    def done_with_sqlite(self, connection: Connection) -> None:
        return None


# Each SQLite engine's queue (configure_engine makes it).
_QUEUES: weakref.WeakKeyDictionary[Engine, WriterQueue] = weakref.WeakKeyDictionary()
_NO_QUEUE = _NoQueue()


def queue_writers(engine: Engine, timeout_ms: int) -> None:
    """Have the write transactions on ``engine`` take turns in this process
    (once per engine: a second call keeps the queue it has)."""
    if engine not in _QUEUES:
        _QUEUES[engine] = WriterQueue(timeout_ms)


def writers_turn(engine: Engine) -> WriterQueue | _NoQueue:
    """This process's turn to write on ``engine``, taken with ``with`` (none
    to wait for on PostgreSQL)."""
    return _QUEUES.get(engine, _NO_QUEUE)
