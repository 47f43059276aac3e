"""The floor app's storage: what it must do, and which database a URL picks."""

from __future__ import annotations

from typing import Protocol


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
