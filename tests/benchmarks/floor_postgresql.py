"""The floor's storage on PostgreSQL: plain psycopg, no ORM, no pool.

One connection per thread, in autocommit for single-statement reads; each write
is one explicit transaction. Upserts and ``RETURNING`` let every write be one
round trip per statement, with no read-then-write race.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from floor_store import BelowZero

SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS members (
    id BIGSERIAL PRIMARY KEY,
    collection_id BIGINT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity >= 0),
    UNIQUE (collection_id, name)
);
"""

MEMBER_QUANTITY = """
SELECT m.quantity FROM members m JOIN collections c ON c.id = m.collection_id
WHERE c.name = %s AND m.name = %s
"""
COLLECTION_ID = "SELECT id FROM collections WHERE name = %s"
INSERT_COLLECTION = """
INSERT INTO collections (name) VALUES (%s) ON CONFLICT (name) DO NOTHING RETURNING id
"""
DELETE_MEMBERS = "DELETE FROM members WHERE collection_id = %s"
INSERT_MEMBER = (
    "INSERT INTO members (collection_id, name, quantity) VALUES (%s, %s, %s)"
)
# xmax = 0 only on a freshly inserted row: tells created from replaced.
UPSERT_MEMBER = """
INSERT INTO members (collection_id, name, quantity) VALUES (%s, %s, %s)
ON CONFLICT (collection_id, name) DO UPDATE SET quantity = excluded.quantity
RETURNING xmax = 0
"""
DELETE_MEMBER = "DELETE FROM members WHERE collection_id = %s AND name = %s"
ADJUST_MEMBER = """
UPDATE members SET quantity = quantity + %s
WHERE collection_id = %s AND name = %s AND quantity + %s >= 0
RETURNING quantity
"""
MEMBER_EXISTS = "SELECT 1 FROM members WHERE collection_id = %s AND name = %s"
STOCK = """
SELECT c.name, m.name, m.quantity
FROM collections c LEFT JOIN members m ON m.collection_id = c.id
ORDER BY c.id, m.id
"""


def libpq_url(database_url: str) -> str:
    """SQLAlchemy's ``postgresql+psycopg://`` URL as libpq spells it."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def create_schema(database_url: str) -> None:
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        connection.execute(SCHEMA)


class PostgreSQLStore:
    """The floor's storage (see floor_store.Store), each call one transaction."""

    def __init__(self, database_url: str) -> None:
        self.url = libpq_url(database_url)
        self.local = threading.local()

    def connection(self) -> psycopg.Connection:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = psycopg.connect(self.url, autocommit=True)
            self.local.connection = connection
        return connection

    @contextmanager
    def writing(self) -> Iterator[psycopg.Connection]:
        connection = self.connection()
        with connection.transaction():
            yield connection

    def member_quantity(self, collection: str, member: str) -> int | None:
        row = self.connection().execute(MEMBER_QUANTITY, (collection, member))
        found = row.fetchone()
        return None if found is None else found[0]

    def stock_rows(self) -> list[tuple[str, str | None, int | None]]:
        return self.connection().execute(STOCK).fetchall()

    def replace_collection(self, collection: str, members: dict[str, int]) -> bool:
        with self.writing() as connection:
            collection_id, created = _ensure_collection(connection, collection)
            connection.execute(DELETE_MEMBERS, (collection_id,))
            with connection.cursor() as cursor:
                cursor.executemany(
                    INSERT_MEMBER, [(collection_id, m, q) for m, q in members.items()]
                )
        return created

    def update_collection(
        self, collection: str, changes: dict[str, int | None]
    ) -> bool:
        with self.writing() as connection:
            collection_id, created = _ensure_collection(connection, collection)
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
            upserted = connection.execute(UPSERT_MEMBER, (row[0], member, quantity))
            return upserted.fetchone()[0]

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


def _ensure_collection(connection: psycopg.Connection, name: str) -> tuple[int, bool]:
    """The collection's id, creating it if needed, and whether it was created."""
    # Looked up first: the usual case writes nothing to the collection's row.
    for statement, created in (
        (COLLECTION_ID, False),
        (INSERT_COLLECTION, True),
        (COLLECTION_ID, False),  # another transaction created it meanwhile
    ):
        row = connection.execute(statement, (name,)).fetchone()
        if row is not None:
            return row[0], created
    raise RuntimeError(f"collection {name!r} vanished while being created")
