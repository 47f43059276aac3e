"""The units of work behind the API and the pages.

Each read is one query; each write is one transaction whose number of statements
does not depend on how much stock there is or how large the body is. Every
change of a quantity is logged as a movement in the same transaction.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from .conditions import Precondition
from .database import (
    insert_ignoring_conflict,
    retry_serialization_failures,
    write_transaction,
)
from .errors import Problem
from .extensions import db
from .models import Collection, Member, Movement, new_version, utcnow
from .validation import MAX_QUANTITY

Stock = dict[str, int]
NO_PRECONDITION = Precondition()


class Written(NamedTuple):
    """What a write left: whether it created the resource, and its version."""

    created: bool
    version: int


class Adjusted(NamedTuple):
    quantity: int
    version: int


class _LockedCollection(NamedTuple):
    id: int
    name: str
    version: int


class _StoredMember(NamedTuple):
    id: int
    quantity: int
    version: int


def _member_not_found(collection: str, member: str) -> Problem:
    return Problem(
        404, "Member not found", f'Collection "{collection}" has no member "{member}".'
    )


def all_stock(only: frozenset[str] | None = None) -> dict[str, Stock]:
    """Every collection (or those named in ``only``) with its members, in the
    order they were created."""
    query = (
        select(Collection.name, Member.name, Member.quantity)
        .outerjoin(Member, Member.collection_id == Collection.id)
        .order_by(Collection.id, Member.id)
    )
    if only is not None:
        query = query.where(Collection.name.in_(only))
    rows = db.session.execute(query)
    stock: dict[str, Stock] = {}
    for collection, member, quantity in rows:
        members = stock.setdefault(collection, {})
        if member is not None:
            members[member] = quantity
    return stock


def collection_stock(name: str) -> tuple[Stock, int] | None:
    """The members of collection ``name`` in creation order and its version.

    None if the collection does not exist.
    """
    rows = db.session.execute(
        select(Collection.version, Member.name, Member.quantity)
        .outerjoin(Member, Member.collection_id == Collection.id)
        .where(Collection.name == name)
        .order_by(Member.id)
    ).all()
    if not rows:
        return None
    members = {member: quantity for _, member, quantity in rows if member is not None}
    return members, rows[0].version


def member_quantity(collection: str, member: str) -> tuple[int, int] | None:
    """The quantity and version of ``member`` in ``collection``, or None if absent."""
    row = db.session.execute(
        select(Member.quantity, Member.version)
        .join(Collection, Member.collection_id == Collection.id)
        .where(Collection.name == collection, Member.name == member)
    ).one_or_none()
    return None if row is None else (row.quantity, row.version)


@retry_serialization_failures
def create_collection(
    name: str, members: Stock, *, by: str | None = None
) -> Written | None:
    """Store a new collection with ``members``; None (nothing stored) if it exists."""
    try:
        with write_transaction():
            row = db.session.execute(
                insert(Collection)
                .values(name=name, version=new_version())
                .returning(Collection.id, Collection.version)
            ).one()
            collection = _LockedCollection(row.id, name, row.version)
            version, _ = _apply_changes(collection, {}, members, "create", by)
    except IntegrityError:
        # The name is taken (the only unique key this INSERT can break).
        return None
    return Written(True, version)


@retry_serialization_failures
def replace_collection(
    name: str,
    members: Stock,
    precondition: Precondition = NO_PRECONDITION,
    *,
    by: str | None = None,
) -> Written:
    """Make collection ``name`` hold exactly ``members``, creating it if needed."""
    with write_transaction():
        collection, created = _lock_or_create_collection(name, precondition)
        current = _current_members(collection.id)
        gone = {member: None for member in current if member not in members}
        changes = {**gone, **members}
        version, _ = _apply_changes(collection, current, changes, "replace", by)
    return Written(created, version)


@retry_serialization_failures
def update_collection(
    name: str,
    changes: dict[str, int | None],
    precondition: Precondition = NO_PRECONDITION,
    *,
    by: str | None = None,
) -> Written:
    """Merge ``changes`` into collection ``name`` (None removes); create if needed."""
    with write_transaction():
        collection, created = _lock_or_create_collection(name, precondition)
        current = _current_members(collection.id)
        version, _ = _apply_changes(collection, current, changes, "update", by)
    return Written(created, version)


@retry_serialization_failures
def delete_collection(
    name: str, precondition: Precondition = NO_PRECONDITION, *, by: str | None = None
) -> None:
    """Delete collection ``name`` and its members, or raise 404."""
    with write_transaction():
        collection = _lock_existing_collection(name)
        precondition.check(collection.version)
        current = _current_members(collection.id)
        _record_movements(
            name,
            [(member, stored.quantity, None) for member, stored in current.items()],
            "delete",
            by=by,
        )
        # The members go with it: ON DELETE CASCADE.
        db.session.execute(
            delete(Collection)
            .where(Collection.id == collection.id)
            .execution_options(synchronize_session=False)
        )


@retry_serialization_failures
def put_member(
    collection_name: str,
    member: str,
    quantity: int,
    precondition: Precondition = NO_PRECONDITION,
    *,
    by: str | None = None,
) -> Written:
    """Set ``member`` of an existing collection to ``quantity``; create if needed."""
    with write_transaction():
        collection = _lock_existing_collection(collection_name)
        current = _current_members(collection.id, only=member)
        stored = current.get(member)
        precondition.check(None if stored is None else stored.version)
        _, versions = _apply_changes(
            collection, current, {member: quantity}, "replace", by
        )
    if stored is not None and member not in versions:
        return Written(False, stored.version)  # the same quantity again: no change
    return Written(stored is None, versions[member])


@retry_serialization_failures
def delete_member(
    collection_name: str,
    member: str,
    precondition: Precondition = NO_PRECONDITION,
    *,
    by: str | None = None,
) -> None:
    """Delete ``member`` of a collection, or raise 404 naming what is missing."""
    with write_transaction():
        collection = _lock_existing_collection(collection_name)
        current = _current_members(collection.id, only=member)
        if member not in current:
            raise _member_not_found(collection_name, member)
        precondition.check(current[member].version)
        _apply_changes(collection, current, {member: None}, "delete", by)


@retry_serialization_failures
def adjust_member(
    collection_name: str,
    member: str,
    delta: int,
    reason: str | None,
    precondition: Precondition = NO_PRECONDITION,
    *,
    by: str | None = None,
) -> Adjusted:
    """Add ``delta`` to a member's quantity, refusing (409) to leave 0..2^63-1."""
    with write_transaction():
        collection = _lock_existing_collection(collection_name)
        stored = _current_members(collection.id, only=member).get(member)
        if stored is None:
            raise _member_not_found(collection_name, member)
        precondition.check(stored.version)
        # One guarded statement. The guard is "quantity + delta stays in
        # 0..2^63-1", written so that nothing in it can overflow 64 bits.
        in_range = (
            Member.quantity >= -delta
            if delta < 0
            else Member.quantity <= MAX_QUANTITY - delta
        )
        adjusted = db.session.execute(
            update(Member)
            .where(Member.id == stored.id, in_range)
            .values(quantity=Member.quantity + delta, version=Member.version + 1)
            .returning(Member.quantity, Member.version)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if adjusted is None:
            raise _refused_adjustment(collection_name, member, delta, stored.quantity)
        _bump_collection(collection)
        _record_movements(
            collection_name,
            [(member, stored.quantity, adjusted.quantity)],
            "adjust",
            reason,
            by,
        )
    return Adjusted(adjusted.quantity, adjusted.version)


def _refused_adjustment(
    collection: str, member: str, delta: int, quantity: int
) -> Problem:
    if delta < 0:
        error, limit = "Insufficient stock", "below 0"
    else:
        error, limit = "Quantity limit exceeded", f"above {MAX_QUANTITY}"
    return Problem(
        409,
        error,
        f'Adjusting "{member}" in "{collection}" by {delta} would take its quantity'
        f" {quantity} {limit}; nothing was changed.",
        quantity=quantity,
    )


def _lock_collection(name: str) -> _LockedCollection | None:
    """Collection ``name``, locked against other writers until commit, or None."""
    row = db.session.execute(
        select(Collection.id, Collection.version)
        .where(Collection.name == name)
        .with_for_update()
    ).one_or_none()
    return None if row is None else _LockedCollection(row.id, name, row.version)


def _lock_existing_collection(name: str) -> _LockedCollection:
    """Collection ``name``, locked against other writers until commit, or 404."""
    collection = _lock_collection(name)
    if collection is None:
        raise Problem(404, "Collection not found", f'There is no collection "{name}".')
    return collection


def _lock_or_create_collection(
    name: str, precondition: Precondition
) -> tuple[_LockedCollection, bool]:
    """Collection ``name``, created if absent, and whether it was created."""
    while True:
        collection = _lock_collection(name)
        precondition.check(None if collection is None else collection.version)
        if collection is not None:
            return collection, False
        row = db.session.execute(
            insert_ignoring_conflict(Collection)
            .values(name=name, version=new_version())
            .returning(Collection.id, Collection.version)
        ).one_or_none()
        if row is not None:
            return _LockedCollection(row.id, name, row.version), True
        # Another transaction created it between the two statements above (only
        # a database without a global write lock, PostgreSQL, lets that happen):
        # lock that one, unless yet another deleted it meanwhile.


def _current_members(
    collection_id: int, only: str | None = None
) -> dict[str, _StoredMember]:
    """Each member of the collection (or just ``only``) as stored, oldest first."""
    # In creation order, so that a write logs its movements in the stock's order
    # rather than in whatever order the query plan gives (name order on SQLite).
    query = (
        select(Member.name, Member.id, Member.quantity, Member.version)
        .where(Member.collection_id == collection_id)
        .order_by(Member.id)
    )
    if only is not None:
        query = query.where(Member.name == only)
    return {
        name: _StoredMember(member_id, quantity, version)
        for name, member_id, quantity, version in db.session.execute(query)
    }


def _apply_changes(
    collection: _LockedCollection,
    current: dict[str, _StoredMember],
    changes: dict[str, int | None],
    kind: str,
    by: str | None,
) -> tuple[int, dict[str, int]]:
    """Write ``changes`` (None deletes) over ``current`` and log them.

    Returns the collection's version and the new version of each member
    written. A handful of statements, whatever the number of members.
    """
    inserts, updates, deletes, movements = [], [], [], []
    versions: dict[str, int] = {}
    for name, quantity in changes.items():
        stored = current.get(name)
        if stored is None:
            if quantity is not None:
                versions[name] = new_version()
                inserts.append(
                    {
                        "collection_id": collection.id,
                        "name": name,
                        "quantity": quantity,
                        "version": versions[name],
                    }
                )
                movements.append((name, None, quantity))
        elif quantity is None:
            deletes.append({"member_id": stored.id})
            movements.append((name, stored.quantity, None))
        elif quantity != stored.quantity:
            versions[name] = stored.version + 1
            updates.append(
                {"id": stored.id, "quantity": quantity, "version": versions[name]}
            )
            movements.append((name, stored.quantity, quantity))
    # Each executes as one executemany, whatever the number of rows.
    if inserts:
        db.session.execute(insert(Member), inserts)
    if updates:
        db.session.execute(update(Member), updates)
    if deletes:
        members = Member.__table__
        db.session.execute(
            delete(members).where(members.c.id == bindparam("member_id")), deletes
        )
    if not movements:
        return collection.version, versions
    _record_movements(collection.name, movements, kind, by=by)
    return _bump_collection(collection), versions


def _bump_collection(collection: _LockedCollection) -> int:
    """Give the locked collection its next version (its ETag changes)."""
    version = collection.version + 1
    db.session.execute(
        update(Collection)
        .where(Collection.id == collection.id)
        .values(version=version)
        .execution_options(synchronize_session=False)
    )
    return version


def _record_movements(
    collection: str,
    movements: list[tuple[str, int | None, int | None]],
    kind: str,
    reason: str | None = None,
    by: str | None = None,
) -> None:
    """Log each (member, before, after), made by user ``by``, in one statement."""
    if not movements:
        return
    at = utcnow()
    # render_nulls: rows with a null before/after join the others in one
    # executemany instead of a batch of their own.
    db.session.execute(
        insert(Movement).execution_options(render_nulls=True),
        [
            {
                "collection": collection,
                "member": member,
                "kind": kind,
                "before": before,
                "after": after,
                "reason": reason,
                "by": by,
                "at": at,
            }
            for member, before, after in movements
        ],
    )
