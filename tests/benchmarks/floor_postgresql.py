"""The floor's storage on PostgreSQL: plain psycopg, no ORM, no pool.

One connection per thread, in autocommit for single-statement reads; each write
is one explicit transaction. Upserts and ``RETURNING`` let every write be one
round trip per statement, with no read-then-write race.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from floor_store import SQLStore, Statements

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


class PostgreSQLStore(SQLStore):
    """The floor's storage (see floor_store.Store), each call one transaction."""

    sql = Statements.named_in(globals())

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.url = libpq_url(database_url)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)

    @contextmanager
    def writing(self) -> Iterator[psycopg.Connection]:
        connection = self.connection()
        with connection.transaction():
            yield connection

    def ensure_collection(
        self, connection: psycopg.Connection, name: str
    ) -> tuple[int, bool]:
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

    def insert_members(
        self, connection: psycopg.Connection, rows: list[tuple[int, str, int]]
    ) -> None:
        with connection.cursor() as cursor:
            cursor.executemany(INSERT_MEMBER, rows)

    def upsert_member(
        self,
        connection: psycopg.Connection,
        collection_id: int,
        member: str,
        quantity: int,
    ) -> bool:
        upserted = connection.execute(UPSERT_MEMBER, (collection_id, member, quantity))
        return upserted.fetchone()[0]
