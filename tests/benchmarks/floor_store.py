"""The floor app's storage: what it must do, and which database a URL picks."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from typing import Any, Protocol


class BelowZero(Exception):
    """An adjustment would take a quantity below zero."""


class Store(Protocol):
    def member_quantity(self, collection: str, member: str) -> int | None:
        """One member's quantity; None if absent."""

    def stock_rows(self) -> list[tuple[str, str | None, int | None]]:
        """(collection, member, quantity) of everything, collections in order."""

    def replace_collection(self, collection: str, members: dict[str, int]) -> bool:
        """Make the collection hold exactly ``members``; True if it was created."""

    def update_collection(
        self, collection: str, changes: dict[str, int | None]
    ) -> bool:
        """Set the listed members (None removes one); True if it was created."""

    def put_member(self, collection: str, member: str, quantity: int) -> bool | None:
        """Set one member; True if created, None if there is no such collection."""

    def delete_member(self, collection: str, member: str) -> bool:
        """Delete one member; False if it did not exist."""

    def adjust_member(self, collection: str, member: str, delta: int) -> int | None:
        """Add ``delta`` and return the new quantity; None if the member is absent.
        Raises BelowZero instead of going below zero."""


@dataclass(frozen=True)
class Statements:
    """The floor's SQL, in one driver's parameter style."""

    member_quantity: str
    collection_id: str
    delete_members: str
    insert_member: str
    upsert_member: str
    delete_member: str
    adjust_member: str
    member_exists: str
    stock: str

    @classmethod
    def named_in(cls, namespace: dict[str, Any]) -> Statements:
        """The statements a driver's module holds as constants of the same names
        in capitals (MEMBER_QUANTITY, ...)."""
        return cls(**{f.name: namespace[f.name.upper()] for f in fields(cls)})


class SQLStore:
    """What the floor does, over any DB-API driver whose connections have
    ``execute`` (sqlite3, psycopg): one connection per thread, each call one
    transaction. A driver's store gives its statements and its transactions."""

    sql: Statements

    def __init__(self) -> None:
        self.local = threading.local()

    def connect(self) -> Any:
        """A new connection, in autocommit: writes open their transactions."""
        raise NotImplementedError

    def writing(self) -> AbstractContextManager[Any]:
        """This thread's connection, in a write transaction for the block."""
        raise NotImplementedError

    def ensure_collection(self, connection: Any, name: str) -> tuple[int, bool]:
        """The collection's id, creating it if needed, and whether it was created."""
        raise NotImplementedError

    def insert_members(self, connection: Any, rows: list[tuple[int, str, int]]):
        """INSERT each (collection_id, name, quantity) as one executemany."""
        raise NotImplementedError

    def upsert_member(
        self, connection: Any, collection_id: int, member: str, quantity: int
    ) -> bool:
        """Set a member of an existing collection; True if it was created."""
        raise NotImplementedError

    def connection(self) -> Any:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = self.connect()
        return connection

    def member_quantity(self, collection: str, member: str) -> int | None:
        found = (
            self.connection()
            .execute(self.sql.member_quantity, (collection, member))
            .fetchone()
        )
        return None if found is None else found[0]

    def stock_rows(self) -> list[tuple[str, str | None, int | None]]:
        return self.connection().execute(self.sql.stock).fetchall()

    def replace_collection(self, collection: str, members: dict[str, int]) -> bool:
        with self.writing() as connection:
            collection_id, created = self.ensure_collection(connection, collection)
            connection.execute(self.sql.delete_members, (collection_id,))
            self.insert_members(
                connection, [(collection_id, m, q) for m, q in members.items()]
            )
        return created

    def update_collection(
        self, collection: str, changes: dict[str, int | None]
    ) -> bool:
        with self.writing() as connection:
            collection_id, created = self.ensure_collection(connection, collection)
            for member, quantity in changes.items():
                if quantity is None:
                    connection.execute(self.sql.delete_member, (collection_id, member))
                else:
                    connection.execute(
                        self.sql.upsert_member, (collection_id, member, quantity)
                    )
        return created

    def _collection_id(self, connection: Any, name: str) -> int | None:
        row = connection.execute(self.sql.collection_id, (name,)).fetchone()
        return None if row is None else row[0]

    def put_member(self, collection: str, member: str, quantity: int) -> bool | None:
        with self.writing() as connection:
            collection_id = self._collection_id(connection, collection)
            if collection_id is None:
                return None
            return self.upsert_member(connection, collection_id, member, quantity)

    def delete_member(self, collection: str, member: str) -> bool:
        with self.writing() as connection:
            collection_id = self._collection_id(connection, collection)
            if collection_id is None:
                return False
            deleted = connection.execute(
                self.sql.delete_member, (collection_id, member)
            )
            return deleted.rowcount > 0

    def adjust_member(self, collection: str, member: str, delta: int) -> int | None:
        with self.writing() as connection:
            collection_id = self._collection_id(connection, collection)
            if collection_id is None:
                return None
            adjusted = connection.execute(
                self.sql.adjust_member, (delta, collection_id, member, delta)
            ).fetchone()
            if adjusted is not None:
                return adjusted[0]
            exists = connection.execute(self.sql.member_exists, (collection_id, member))
            if exists.fetchone():
                raise BelowZero
            return None


SQLITE_PREFIX = "sqlite:///"


def open_store(database_url: str) -> Store:
    """The store for a SQLAlchemy-style URL: a SQLite file or a PostgreSQL server."""
    if database_url.startswith(SQLITE_PREFIX):
        from floor_sqlite import SQLiteStore

        return SQLiteStore(database_url.removeprefix(SQLITE_PREFIX))
    from floor_postgresql import PostgreSQLStore

    return PostgreSQLStore(database_url)


def create_schema(database_url: str) -> None:
    """Create the floor's tables in an empty database."""
    if database_url.startswith(SQLITE_PREFIX):
        from floor_sqlite import create_schema as create

        create(database_url.removeprefix(SQLITE_PREFIX))
    else:
        from floor_postgresql import create_schema as create

        create(database_url)
