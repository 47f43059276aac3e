"""The units of work behind the API and the pages.

Each read is one query; each write is one transaction whose number of statements
does not depend on how much stock there is or how large the body is.
"""

from __future__ import annotations

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from .database import (
    insert_ignoring_conflict,
    retry_serialization_failures,
    write_transaction,
)
from .errors import Problem
from .extensions import db
from .models import Collection, Member

Stock = dict[str, int]


def collection_not_found(name: str) -> Problem:
    return Problem(404, "Collection not found", f'There is no collection "{name}".')


def all_stock() -> dict[str, Stock]:
    """Every collection with its members, in the order they were created."""
    rows = db.session.execute(
        select(Collection.name, Member.name, Member.quantity)
        .outerjoin(Member, Member.collection_id == Collection.id)
        .order_by(Collection.id, Member.id)
    )
    stock: dict[str, Stock] = {}
    for collection, member, quantity in rows:
        members = stock.setdefault(collection, {})
        if member is not None:
            members[member] = quantity
    return stock


def collection_stock(name: str) -> Stock | None:
    """The members of collection ``name`` in creation order, or None if it is absent."""
    rows = db.session.execute(
        select(Member.name, Member.quantity)
        .select_from(Collection)
        .outerjoin(Member, Member.collection_id == Collection.id)
        .where(Collection.name == name)
        .order_by(Member.id)
    ).all()
    if not rows:
        return None
    return {member: quantity for member, quantity in rows if member is not None}


def member_quantity(collection: str, member: str) -> int | None:
    """The quantity of ``member`` in ``collection``, or None if either is absent."""
    return db.session.execute(
        select(Member.quantity)
        .join(Collection, Member.collection_id == Collection.id)
        .where(Collection.name == collection, Member.name == member)
    ).scalar_one_or_none()


@retry_serialization_failures
def create_collection(name: str, members: Stock) -> bool:
    """Store a new collection with ``members``; False (nothing stored) if it exists."""
    try:
        with write_transaction():
            collection_id = db.session.execute(
                insert(Collection).values(name=name).returning(Collection.id)
            ).scalar_one()
            _apply_changes(collection_id, {}, members)
    except IntegrityError:
        # The name is taken (the only unique key this INSERT can break).
        return False
    return True


@retry_serialization_failures
def replace_collection(name: str, members: Stock) -> bool:
    """Make collection ``name`` hold exactly ``members``; True if it was created."""
    with write_transaction():
        collection_id, created = _lock_or_create_collection(name)
        current = _current_members(collection_id)
        gone = {member: None for member in current if member not in members}
        _apply_changes(collection_id, current, {**gone, **members})
    return created


@retry_serialization_failures
def update_collection(name: str, changes: dict[str, int | None]) -> bool:
    """Merge ``changes`` into collection ``name`` (None removes); True if created."""
    with write_transaction():
        collection_id, created = _lock_or_create_collection(name)
        _apply_changes(collection_id, _current_members(collection_id), changes)
    return created


@retry_serialization_failures
def delete_collection(name: str) -> None:
    """Delete collection ``name`` and its members, or raise 404."""
    with write_transaction():
        deleted = db.session.execute(
            delete(Collection)
            .where(Collection.name == name)
            .execution_options(synchronize_session=False)
        )
        if deleted.rowcount != 1:
            raise collection_not_found(name)


@retry_serialization_failures
def put_member(collection: str, member: str, quantity: int) -> bool:
    """Set ``member`` of an existing collection to ``quantity``; True if created."""
    with write_transaction():
        collection_id = _lock_collection(collection)
        if collection_id is None:
            raise collection_not_found(collection)
        current = _current_members(collection_id, only=member)
        _apply_changes(collection_id, current, {member: quantity})
    return member not in current


@retry_serialization_failures
def delete_member(collection: str, member: str) -> None:
    """Delete ``member`` of ``collection``, or raise 404 naming what is missing."""
    with write_transaction():
        collection_id = _lock_collection(collection)
        if collection_id is None:
            raise collection_not_found(collection)
        current = _current_members(collection_id, only=member)
        if member not in current:
            raise Problem(
                404,
                "Member not found",
                f'Collection "{collection}" has no member "{member}".',
            )
        _apply_changes(collection_id, current, {member: None})


def _lock_collection(name: str) -> int | None:
    """The id of collection ``name``, locked against other writers until commit."""
    return db.session.execute(
        select(Collection.id).where(Collection.name == name).with_for_update()
    ).scalar_one_or_none()


def _lock_or_create_collection(name: str) -> tuple[int, bool]:
    """The id of collection ``name``, created if absent, and whether it was created."""
    while True:
        collection_id = _lock_collection(name)
        if collection_id is not None:
            return collection_id, False
        collection_id = db.session.execute(
            insert_ignoring_conflict(Collection)
            .values(name=name)
            .returning(Collection.id)
        ).scalar_one_or_none()
        if collection_id is not None:
            return collection_id, True
        # Another transaction created it between the two statements above (only
        # a database without a global write lock, PostgreSQL, lets that happen):
        # lock that one, unless yet another deleted it meanwhile.


def _current_members(
    collection_id: int, only: str | None = None
) -> dict[str, tuple[int, int]]:
    """Map each member name of the collection (or just ``only``) to (id, quantity)."""
    query = select(Member.name, Member.id, Member.quantity).where(
        Member.collection_id == collection_id
    )
    if only is not None:
        query = query.where(Member.name == only)
    return {
        name: (member_id, quantity)
        for name, member_id, quantity in db.session.execute(query)
    }


def _apply_changes(
    collection_id: int,
    current: dict[str, tuple[int, int]],
    changes: dict[str, int | None],
) -> None:
    """Write ``changes`` (None deletes) over ``current`` in at most three statements."""
    inserts, updates, deletes = [], [], []
    for name, quantity in changes.items():
        if name not in current:
            if quantity is not None:
                inserts.append(
                    {"collection_id": collection_id, "name": name, "quantity": quantity}
                )
            continue
        member_id, old_quantity = current[name]
        if quantity is None:
            deletes.append({"member_id": member_id})
        elif quantity != old_quantity:
            updates.append({"id": member_id, "quantity": quantity})
    # Each executes as one executemany, whatever the number of rows.
    if inserts:
        db.session.execute(insert(Member), inserts)
    if updates:
        db.session.execute(update(Member), updates)
    if deletes:
        db.session.execute(
            delete(Member.__table__).where(
                Member.__table__.c.id == bindparam("member_id")
            ),
            deletes,
        )
