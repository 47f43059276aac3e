"""The floor's storage on SQLite: hand-written sqlite3, WAL, FULL sync, no ORM.

One connection per thread; every write takes the write lock up front
(``BEGIN IMMEDIATE``) so a read-then-write never has to be retried.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from floor_store import SQLStore, Statements

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


class SQLiteStore(SQLStore):
    """The floor's storage (see floor_store.Store), each call one transaction."""

    sql = Statements.named_in(globals())

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def connect(self) -> sqlite3.Connection:
        return connect(self.path)

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

    def ensure_collection(
        self, connection: sqlite3.Connection, name: str
    ) -> tuple[int, bool]:
        # The write lock is held: nobody creates it between the two statements.
        row = connection.execute(COLLECTION_ID, (name,)).fetchone()
        if row is not None:
            return row[0], False
        return connection.execute(INSERT_COLLECTION, (name,)).lastrowid, True

    def insert_members(
        self, connection: sqlite3.Connection, rows: list[tuple[int, str, int]]
    ) -> None:
        connection.executemany(INSERT_MEMBER, rows)

    def upsert_member(
        self,
        connection: sqlite3.Connection,
        collection_id: int,
        member: str,
        quantity: int,
    ) -> bool:
        updated = connection.execute(UPDATE_MEMBER, (quantity, collection_id, member))
        if updated.rowcount:
            return False
        connection.execute(INSERT_MEMBER, (collection_id, member, quantity))
        return True
