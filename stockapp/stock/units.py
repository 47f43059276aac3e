"""The units of work behind the API and the pages.

Each read is one query; each write is one transaction whose number of statements
does not depend on how much stock there is or how large the body is. Every
change of a quantity is logged as a movement in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from sqlalchemy import Executable, text
from sqlalchemy.exc import IntegrityError

from ..core import driver
from ..core.clock import utcnow
from ..core.conditions import Precondition
from ..core.database import (
    dialect_name,
    retry_serialization_failures,
    write_connection,
    write_transaction,
)
from ..core.errors import Problem
from ..core.rules import MAX_QUANTITY
from .models import new_version
from .signals import Change, Recorded, collection_deleted, movements_recorded
from .statements import (
    ADD_TO_MEMBER,
    BUMP_COLLECTION,
    DELETE_COLLECTION,
    DELETE_MEMBERS,
    INSERT_COLLECTION,
    INSERT_MEMBERS,
    INSERT_MOVEMENT,
    INSERT_MOVEMENTS,
    LOCK_COLLECTION,
    SET_REORDER_LEVEL,
    TAKE_FROM_MEMBER,
    UPDATE_MEMBERS,
    for_dialect,
    names_parameter,
)

Stock = dict[str, int]
NO_PRECONDITION = Precondition()
# The errors of the units of work, shared by their answers and the API document.
COLLECTION_NOT_FOUND = "Collection not found"
MEMBER_NOT_FOUND = "Member not found"
INSUFFICIENT_STOCK = "Insufficient stock"
QUANTITY_LIMIT_EXCEEDED = "Quantity limit exceeded"


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
    reorder_level: int | None


class _Movement(NamedTuple):
    """A change to log: the member, its quantities, and what it is now."""

    member: str
    before: int | None
    after: int | None
    reorder_level: int | None = None
    version: int | None = None


def _member_not_found(collection: str, member: str) -> Problem:
    return Problem(
        404, MEMBER_NOT_FOUND, f'Collection "{collection}" has no member "{member}".'
    )


@retry_serialization_failures
def set_reorder_level(
    collection_name: str,
    member: str,
    level: int | None,
    precondition: Precondition = NO_PRECONDITION,
) -> Written:
    """Set (None: clear) the reorder level of an existing member; its version
    changes only if the level does."""
    with write_transaction():
        _, stored = _lock_existing_member(collection_name, member, precondition)
        changed = _execute(
            SET_REORDER_LEVEL, member_id=stored.id, level=level
        ).one_or_none()
    return Written(False, stored.version if changed is None else changed.version)


@retry_serialization_failures
def create_collection(
    name: str, members: Stock, *, by: str | None = None
) -> Written | None:
    """Store a new collection with ``members``; None (nothing stored) if it exists."""
    try:
        with write_transaction():
            row = _execute(INSERT_COLLECTION, name=name, version=new_version()).one()
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
    kind: str = "replace",
) -> Written:
    """Make collection ``name`` hold exactly ``members``, creating it if needed.

    The members the body does not name are logged and removed by the database
    in two statements; only the body's members travel to Python.
    """
    with write_transaction():
        collection, created = _lock_or_create_collection(name, precondition)
        removed = _remove_members_not_named(collection, members, kind, by)
        current = _current_members(collection.id, members)
        version, _ = _apply_changes(collection, current, members, kind, by)
        if removed and version == collection.version:
            version = _bump_collection(collection)
    return Written(created, version)


@retry_serialization_failures
def update_collection(
    name: str,
    changes: dict[str, int | None],
    precondition: Precondition = NO_PRECONDITION,
    *,
    by: str | None = None,
    kind: str = "update",
) -> Written:
    """Merge ``changes`` into collection ``name`` (None removes); create if needed."""
    with write_transaction():
        collection, created = _lock_or_create_collection(name, precondition)
        current = _current_members(collection.id, changes)
        version, _ = _apply_changes(collection, current, changes, kind, by)
    return Written(created, version)


@retry_serialization_failures
def delete_collection(
    name: str, precondition: Precondition = NO_PRECONDITION, *, by: str | None = None
) -> None:
    """Delete collection ``name`` and its members, or raise 404."""
    with write_transaction():
        collection = _lock_existing_collection(name)
        precondition.check(collection.version)
        _log_members_not_named(collection, (), "delete", by)
        # The members go with it: ON DELETE CASCADE.
        _execute(DELETE_COLLECTION, collection_id=collection.id)
        collection_deleted.send(None, collection=name, by=by, at=utcnow())


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
        current = _current_members(collection.id, (member,))
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
        collection, stored = _lock_existing_member(
            collection_name, member, precondition
        )
        _apply_changes(collection, {member: stored}, {member: None}, "delete", by)


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
        collection, stored = _lock_existing_member(
            collection_name, member, precondition
        )
        # One guarded statement: the database refuses to leave the range.
        if delta < 0:
            adjusted = _execute(
                TAKE_FROM_MEMBER, member_id=stored.id, delta=delta, at_least=-delta
            ).one_or_none()
        else:
            adjusted = _execute(
                ADD_TO_MEMBER,
                member_id=stored.id,
                delta=delta,
                at_most=MAX_QUANTITY - delta,
            ).one_or_none()
        if adjusted is None:
            raise _refused_adjustment(collection_name, member, delta, stored.quantity)
        _bump_collection(collection)
        _record_movements(
            collection_name,
            [
                _Movement(
                    member,
                    stored.quantity,
                    adjusted.quantity,
                    stored.reorder_level,
                    adjusted.version,
                )
            ],
            "adjust",
            reason,
            by,
        )
    return Adjusted(adjusted.quantity, adjusted.version)


class ImportedCollection(NamedTuple):
    """What an import does (or, in a dry run, would do) to one collection."""

    collection: str
    created: bool
    added: int
    changed: int
    unchanged: int
    removed: int


@retry_serialization_failures
def import_stock(
    stock: Mapping[str, Stock], *, replace: bool, dry_run: bool, by: str | None
) -> list[ImportedCollection]:
    """Set the quantities of ``stock`` (with ``replace``, each collection it
    names holds only its members afterwards), as one transaction, each change
    logged as kind "import"; with ``dry_run`` only say what would change."""
    outcome = []
    with write_transaction():
        for name, members in stock.items():
            outcome.append(_import_plan(name, members, replace))
            if dry_run:
                continue
            if replace:
                replace_collection(name, dict(members), by=by, kind="import")
            else:
                update_collection(name, dict(members), by=by, kind="import")
    return outcome


def _import_plan(name: str, members: Stock, replace: bool) -> ImportedCollection:
    collection = _lock_collection(name)
    if collection is None:
        return ImportedCollection(name, True, len(members), 0, 0, 0)
    current = _current_members(collection.id, members)
    changed = sum(
        1
        for member, quantity in members.items()
        if member in current and current[member].quantity != quantity
    )
    removed = 0
    if replace:
        removed = _execute(
            for_dialect().count_members_not_named,
            collection_id=collection.id,
            names=names_parameter(members),
        ).one()[0]
    return ImportedCollection(
        name,
        False,
        len(members) - len(current),
        changed,
        len(current) - changed,
        removed,
    )


# A fresh random version for every row, as new_version() gives a new one: the
# same range, drawn by the database so a million rows are one statement each.
_RANDOM_VERSION = {
    "sqlite": "abs(random()) % 4503599627370496 + 1",
    "postgresql": "floor(random() * 4503599627370496)::bigint + 1",
}


def renew_versions() -> None:
    """Give every collection and member a new random version, so no ETag a client
    holds from before (a restore, a downgrade) can match anything after it."""
    expression = _RANDOM_VERSION[dialect_name()]
    with write_transaction():
        for table in ("collections", "members"):
            write_connection().execute(
                text(f"UPDATE {table} SET version = {expression}")
            )


def _refused_adjustment(
    collection: str, member: str, delta: int, quantity: int
) -> Problem:
    if delta < 0:
        error, limit = INSUFFICIENT_STOCK, "below 0"
    else:
        error, limit = QUANTITY_LIMIT_EXCEEDED, f"above {MAX_QUANTITY}"
    return Problem(
        409,
        error,
        f'Adjusting "{member}" in "{collection}" by {delta} would take its quantity'
        f" {quantity} {limit}; nothing was changed.",
        quantity=quantity,
    )


def _execute(statement: Executable, **params: Any) -> driver.Rows:
    """Run one statement with ``params`` in the current write transaction."""
    return driver.execute(write_connection(), statement, params)


def _execute_many(statement: Executable, rows: list[dict[str, Any]]) -> None:
    """Run ``statement`` once per row, as one executemany."""
    driver.execute_many(write_connection(), statement, rows)


def _lock_collection(name: str) -> _LockedCollection | None:
    """Collection ``name``, locked against other writers until commit, or None."""
    row = _execute(LOCK_COLLECTION, name=name).one_or_none()
    return None if row is None else _LockedCollection(row.id, name, row.version)


def _lock_existing_collection(name: str) -> _LockedCollection:
    """Collection ``name``, locked against other writers until commit, or 404."""
    collection = _lock_collection(name)
    if collection is None:
        raise Problem(404, COLLECTION_NOT_FOUND, f'There is no collection "{name}".')
    return collection


def _lock_existing_member(
    collection_name: str, member: str, precondition: Precondition
) -> tuple[_LockedCollection, _StoredMember]:
    """The locked collection and ``member`` as stored, or 404; 412 unless the
    member's version meets ``precondition``."""
    collection = _lock_existing_collection(collection_name)
    stored = _current_members(collection.id, (member,)).get(member)
    if stored is None:
        raise _member_not_found(collection_name, member)
    precondition.check(stored.version)
    return collection, stored


def _lock_or_create_collection(
    name: str, precondition: Precondition
) -> tuple[_LockedCollection, bool]:
    """Collection ``name``, created if absent, and whether it was created."""
    while True:
        collection = _lock_collection(name)
        precondition.check(None if collection is None else collection.version)
        if collection is not None:
            return collection, False
        row = _execute(
            for_dialect().insert_collection_if_absent,
            name=name,
            version=new_version(),
        ).one_or_none()
        if row is not None:
            return _LockedCollection(row.id, name, row.version), True
        # Another transaction created it between the two statements above (only
        # a database without a global write lock, PostgreSQL, lets that happen):
        # lock that one, unless yet another deleted it meanwhile.


def _current_members(
    collection_id: int, names: Iterable[str]
) -> dict[str, _StoredMember]:
    """Each member of the collection named in ``names``, as stored, oldest first.

    One lookup per name through the unique index: the cost follows the names,
    not the size of the collection.
    """
    rows = _execute(
        for_dialect().members_named,
        collection_id=collection_id,
        names=names_parameter(names),
    ).all()
    # In creation order, so that a write logs its movements in the stock's order
    # rather than in whatever order the query plan gives.
    rows.sort(key=lambda row: row.id)
    return {
        name: _StoredMember(member_id, quantity, version, level)
        for name, member_id, quantity, version, level in rows
    }


def _log_members_not_named(
    collection: _LockedCollection, names: Iterable[str], kind: str, by: str | None
) -> int:
    """Log the removal of every member not in ``names``; how many there are."""
    at = utcnow()
    logged = _execute(
        for_dialect().log_members_not_named,
        collection_id=collection.id,
        collection_name=collection.name,
        names=names_parameter(names),
        kind=kind,
        by=by,
        at=at,
    ).all()
    if logged:
        # RETURNING's rows come in no promised order: the ids give it.
        changes = [
            Change(movement_id, member, before, None, None, None)
            for movement_id, member, before in sorted(logged)
        ]
        _announce(Recorded(collection.name, kind, None, by, at, changes))
    return len(logged)


def _remove_members_not_named(
    collection: _LockedCollection, names: Iterable[str], kind: str, by: str | None
) -> int:
    """Log and delete every member not in ``names``; how many there were."""
    if not _log_members_not_named(collection, names, kind, by):
        return 0
    return _execute(
        for_dialect().delete_members_not_named,
        collection_id=collection.id,
        names=names_parameter(names),
    ).rowcount


def _apply_changes(
    collection: _LockedCollection,
    current: dict[str, _StoredMember],
    changes: Mapping[str, int | None],
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
                movements.append(
                    _Movement(name, None, quantity, version=versions[name])
                )
        elif quantity is None:
            deletes.append({"member_id": stored.id})
            movements.append(_Movement(name, stored.quantity, None))
        elif quantity != stored.quantity:
            versions[name] = stored.version + 1
            updates.append(
                {
                    "member_id": stored.id,
                    "new_quantity": quantity,
                    "new_version": versions[name],
                }
            )
            movements.append(
                _Movement(
                    name,
                    stored.quantity,
                    quantity,
                    stored.reorder_level,
                    versions[name],
                )
            )
    # Each executes as one executemany, whatever the number of rows.
    if inserts:
        _execute_many(INSERT_MEMBERS, inserts)
    if updates:
        _execute_many(UPDATE_MEMBERS, updates)
    if deletes:
        _execute_many(DELETE_MEMBERS, deletes)
    if not movements:
        return collection.version, versions
    _record_movements(collection.name, movements, kind, by=by)
    return _bump_collection(collection), versions


def _bump_collection(collection: _LockedCollection) -> int:
    """Give the locked collection its next version (its ETag changes)."""
    version = collection.version + 1
    _execute(BUMP_COLLECTION, collection_id=collection.id, new_version=version)
    return version


def _record_movements(
    collection: str,
    movements: list[_Movement],
    kind: str,
    reason: str | None = None,
    by: str | None = None,
) -> None:
    """Log each movement, made by user ``by``, in one statement, and announce
    them (signals.movements_recorded) to the capabilities above."""
    if not movements:
        return
    at = utcnow()
    rows = [
        {
            "collection": collection,
            "member": movement.member,
            "kind": kind,
            "before": movement.before,
            "after": movement.after,
            "reason": reason,
            "by": by,
            "at": at,
        }
        for movement in movements
    ]
    if len(rows) == 1:
        ids = [_execute(INSERT_MOVEMENT, **rows[0]).one().id]
    else:
        # One multi-row INSERT per thousand rows; each member once, so the
        # returned (id, member) pairs map back whatever their order.
        returned = dict(
            (member, movement_id)
            for movement_id, member in write_connection().execute(
                INSERT_MOVEMENTS, rows
            )
        )
        ids = [returned[movement.member] for movement in movements]
    changes = [
        Change(movement_id, *movement)
        for movement_id, movement in zip(ids, movements, strict=True)
    ]
    _announce(Recorded(collection, kind, reason, by, at, changes))


def _announce(recorded: Recorded) -> None:
    """Tell the receivers of movements_recorded, inside the write."""
    if movements_recorded.receivers:
        movements_recorded.send(None, recorded=recorded)
