"""The floor's storage on SQLite: hand-written sqlite3, WAL, FULL sync, no ORM.

One connection per thread; every write takes the write lock up front
(``BEGIN IMMEDIATE``) so a read-then-write never has to be retried.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from floor_store import BelowZero

SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS members (
    id INTEGER PRIMARY KEY,
    collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity >= 0),
    UNIQUE (collection_id, name)
);
"""
BUSY_TIMEOUT_S = 30

MEMBER_QUANTITY = """
SELECT m.quantity FROM members m JOIN collections c ON c.id = m.collection_id
WHERE c.name = ? AND m.name = ?
"""
COLLECTION_ID = "SELECT id FROM collections WHERE name = ?"
INSERT_COLLECTION = "INSERT INTO collections (name) VALUES (?)"
DELETE_MEMBERS = "DELETE FROM members WHERE collection_id = ?"
INSERT_MEMBER = "INSERT INTO members (collection_id, name, quantity) VALUES (?, ?, ?)"
UPSERT_MEMBER = """
INSERT INTO members (collection_id, name, quantity) VALUES (?, ?, ?)
ON CONFLICT (collection_id, name) DO UPDATE SET quantity = excluded.quantity
"""
UPDATE_MEMBER = "UPDATE members SET quantity = ? WHERE collection_id = ? AND name = ?"
DELETE_MEMBER = "DELETE FROM members WHERE collection_id = ? AND name = ?"
ADJUST_MEMBER = """
UPDATE members SET quantity = quantity + ?
WHERE collection_id = ? AND name = ? AND quantity + ? >= 0
RETURNING quantity
"""
MEMBER_EXISTS = "SELECT 1 FROM members WHERE collection_id = ? AND name = ?"
STOCK = """
SELECT c.name, m.name, m.quantity
FROM collections c LEFT JOIN members m ON m.collection_id = c.id
ORDER BY c.id, m.id
"""


def create_schema(path: str) -> None:
    """Create the tables and switch the file to WAL (a lasting setting)."""
    with closing_connection(path) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.executescript(SCHEMA)


@contextmanager
def closing_connection(path: str) -> Iterator[sqlite3.Connection]:
    connection = connect(path)
    try:
        yield connection
    finally:
        connection.close()


def connect(path: str) -> sqlite3.Connection:
    # Autocommit mode: transactions are opened explicitly below.
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


class SQLiteStore:
    """The floor's storage (see floor_store.Store), each call one transaction."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.local = threading.local()

    def connection(self) -> sqlite3.Connection:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = connect(self.path)
        return connection

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        connection = self.connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def member_quantity(self, collection: str, member: str) -> int | None:
        row = (
            self.connection().execute(MEMBER_QUANTITY, (collection, member)).fetchone()
        )
        return None if row is None else row[0]

    def stock_rows(self) -> list[tuple[str, str | None, int | None]]:
        return self.connection().execute(STOCK).fetchall()

    def replace_collection(self, collection: str, members: dict[str, int]) -> bool:
        with self.writing() as connection:
            collection_id, created = _collection_id(connection, collection)
            connection.execute(DELETE_MEMBERS, (collection_id,))
            connection.executemany(
                INSERT_MEMBER, [(collection_id, m, q) for m, q in members.items()]
            )
        return created

    def update_collection(
        self, collection: str, changes: dict[str, int | None]
    ) -> bool:
        with self.writing() as connection:
            collection_id, created = _collection_id(connection, collection)
            for member, quantity in changes.items():
                if quantity is None:
                    connection.execute(DELETE_MEMBER, (collection_id, member))
                else:
                    connection.execute(UPSERT_MEMBER, (collection_id, member, quantity))
        return created

    def put_member(self, collection: str, member: str, quantity: int) -> bool | None:
        with self.writing() as connection:
            row = connection.execute(COLLECTION_ID, (collection,)).fetchone()
            if row is None:
                return None
            if connection.execute(UPDATE_MEMBER, (quantity, row[0], member)).rowcount:
                return False
            connection.execute(INSERT_MEMBER, (row[0], member, quantity))
            return True

    def delete_member(self, collection: str, member: str) -> bool:
        with self.writing() as connection:
            row = connection.execute(COLLECTION_ID, (collection,)).fetchone()
            if row is None:
                return False
            return connection.execute(DELETE_MEMBER, (row[0], member)).rowcount > 0

    def adjust_member(self, collection: str, member: str, delta: int) -> int | None:
        with self.writing() as connection:
            row = connection.execute(COLLECTION_ID, (collection,)).fetchone()
            if row is None:
                return None
            collection_id = row[0]
            adjusted = connection.execute(
                ADJUST_MEMBER, (delta, collection_id, member, delta)
            ).fetchone()
            if adjusted is not None:
                return adjusted[0]
            exists = connection.execute(MEMBER_EXISTS, (collection_id, member))
            if exists.fetchone():
                raise BelowZero
            return None


def _collection_id(connection: sqlite3.Connection, name: str) -> tuple[int, bool]:
    """The collection's id, creating it if needed, and whether it was created."""
    row = connection.execute(COLLECTION_ID, (name,)).fetchone()
    if row is not None:
        return row[0], False
    return connection.execute(INSERT_COLLECTION, (name,)).lastrowid, True
