"""The units of work behind the API and the pages.

Each read is one query; each write is one transaction whose number of statements
does not depend on how much stock there is or how large the body is. Every
change of a quantity is logged as a movement in the same transaction. The
pieces they are built from are in ledger.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from ..core.clock import utcnow
from ..core.conditions import Precondition
from ..core.database import (
    dialect_name,
    read,
    retry_serialization_failures,
    write_connection,
    write_transaction,
)
from ..core.errors import Problem
from .code_imports import CodeClash, Codes, changed_codes, kept_holder, write_codes
from .codes import made_code
from .ledger import (
    COLLECTION_NOT_FOUND,
    INSUFFICIENT_STOCK,
    MEMBER_NOT_FOUND,
    QUANTITY_LIMIT_EXCEEDED,
    Adjusted,
    LockedCollection,
    Stock,
    adjust_locked,
    apply_changes,
    bump_collection,
    current_members,
    execute,
    lock_collection,
    lock_existing_collection,
    lock_existing_collection_setting_one,
    lock_existing_member,
    lock_or_create_collection_setting_one,
    lock_or_create_collection_with_members,
    log_members_not_named,
    record_code_change,
    record_level_change,
    remove_members_not_named,
)
from .models import new_version
from .signals import collection_deleted
from .statements import (
    DELETE_COLLECTION,
    INSERT_COLLECTION,
    MEMBER_CODE,
    MEMBER_WITH_CODE,
    SET_CODE,
    SET_REORDER_LEVEL,
    for_dialect,
    names_parameter,
)

__all__ = [
    "COLLECTION_NOT_FOUND",
    "INSUFFICIENT_STOCK",
    "MEMBER_NOT_FOUND",
    "QUANTITY_LIMIT_EXCEEDED",
    "Adjusted",
    "Stock",
]
NO_PRECONDITION = Precondition()
CODE_TAKEN = "Code taken"


class Written(NamedTuple):
    """What a write left: whether it created the resource, and its version."""

    created: bool
    version: int


@retry_serialization_failures
def set_reorder_level(
    collection_name: str,
    member: str,
    level: int | None,
    precondition: Precondition = NO_PRECONDITION,
    *,
    by: str | None = None,
) -> Written:
    """Set (None: clear) the reorder level of an existing member; its version
    changes, and the change is logged, only if the level does."""
    with write_transaction():
        _, stored = lock_existing_member(collection_name, member, precondition)
        changed = execute(
            SET_REORDER_LEVEL, member_id=stored.id, level=level
        ).one_or_none()
        if changed is None:
            return Written(False, stored.version)
        record_level_change(collection_name, member, stored, level, changed.version, by)
    return Written(False, changed.version)


@retry_serialization_failures
def set_code(
    collection_name: str,
    member: str,
    code: str | None,
    precondition: Precondition = NO_PRECONDITION,
    *,
    by: str | None = None,
) -> Written:
    """Set (None: clear) the code of an existing member; its version changes,
    and the change is logged, only if the code does. 409 if another member of
    the collection carries ``code``."""
    try:
        with write_transaction():
            _, stored = lock_existing_member(collection_name, member, precondition)
            before = execute(MEMBER_CODE, collection=collection_name, member=member)
            code_before = before.one().code
            changed = execute(SET_CODE, member_id=stored.id, code=code).one_or_none()
            if changed is None:
                return Written(False, stored.version)
            record_code_change(
                collection_name, member, stored, code_before, code, changed.version, by
            )
    except IntegrityError:
        # The (code, collection_id) index: another member carries it.
        raise code_taken(collection_name, code) from None
    return Written(False, changed.version)


# A made code that another member of the collection happens to carry is made
# again, this many times at most (10 billion codes: a clash is rare).
_MADE_TRIES = 5


def make_code(
    collection_name: str,
    member: str,
    precondition: Precondition = NO_PRECONDITION,
    *,
    by: str | None = None,
) -> tuple[str, Written]:
    """Give an existing member a code of stockapp's own (codes.made_code),
    unique in its collection; the code and what was written."""
    for attempt in range(_MADE_TRIES):
        code = made_code()
        try:
            return code, set_code(collection_name, member, code, precondition, by=by)
        except Problem as problem:
            if problem.error != CODE_TAKEN or attempt == _MADE_TRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def code_taken(collection: str, code: str | None) -> Problem:
    """The 409 of a code another member of ``collection`` carries."""
    holders = read(MEMBER_WITH_CODE, collection=collection, code=code)
    held = f" by {holders[0].name}" if holders else ""
    return Problem(
        409,
        CODE_TAKEN,
        f'The code "{code}" is carried{held} in {collection}: a code names one'
        " member of a collection. Nothing was changed.",
    )


@retry_serialization_failures
def create_collection(
    name: str, members: Stock, *, by: str | None = None
) -> Written | None:
    """Store a new collection with ``members``; None (nothing stored) if it exists."""
    try:
        with write_transaction():
            row = execute(INSERT_COLLECTION, name=name, version=new_version()).one()
            collection = LockedCollection(row.id, name, row.version)
            version, _ = apply_changes(collection, {}, members, "create", by)
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
        collection, created, current = lock_or_create_collection_with_members(
            name, precondition, members
        )
        removed = remove_members_not_named(collection, members, kind, by)
        version, _ = apply_changes(collection, current, members, kind, by)
        if removed and version == collection.version:
            version = bump_collection(collection)
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
        created, locked = lock_or_create_collection_setting_one(
            name, precondition, changes, kind, by
        )
        version, _ = locked.written or apply_changes(
            locked.collection, locked.current, changes, kind, by
        )
    return Written(created, version)


@retry_serialization_failures
def delete_collection(
    name: str, precondition: Precondition = NO_PRECONDITION, *, by: str | None = None
) -> None:
    """Delete collection ``name`` and its members, or raise 404."""
    with write_transaction():
        collection = lock_existing_collection(name)
        precondition.check(collection.version)
        log_members_not_named(collection, (), "delete", by)
        # The members go with it: ON DELETE CASCADE.
        execute(DELETE_COLLECTION, collection_id=collection.id)
        collection_deleted.send(None, collection=name, by=by, at=utcnow())


@retry_serialization_failures
def put_member(
    collection_name: str,
    member: str,
    quantity: int,
    precondition: Precondition = NO_PRECONDITION,
    *,
    by: str | None = None,
    reason: str | None = None,
) -> Written:
    """Set ``member`` of an existing collection to ``quantity``, logged with
    ``reason``; create it if needed."""
    with write_transaction():
        locked = lock_existing_collection_setting_one(
            collection_name, member, quantity, precondition, "replace", by, reason
        )
        stored = locked.current.get(member)
        precondition.check(None if stored is None else stored.version)
        _, versions = locked.written or apply_changes(
            locked.collection, locked.current, {member: quantity}, "replace", by, reason
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
        collection, stored = lock_existing_member(collection_name, member, precondition)
        apply_changes(collection, {member: stored}, {member: None}, "delete", by)


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
        collection, stored = lock_existing_member(collection_name, member, precondition)
        return adjust_locked(collection, member, stored, delta, "adjust", reason, by)


class MemberChange(NamedTuple):
    """One member an import changes: its quantity before (None: it is new) and
    after (None: it is removed)."""

    member: str
    before: int | None
    after: int | None


# A dry run that lists its changes names at most this many removed members of
# a collection (the file bounds the others; a replace may remove millions).
MAX_REMOVALS_LISTED = 1000


class ImportedCollection(NamedTuple):
    """What an import does (or, in a dry run, would do) to one collection."""

    collection: str
    created: bool
    added: int
    changed: int
    unchanged: int
    removed: int
    # Asked for (``listed``): each member added or changed, in the file's
    # order, then at most MAX_REMOVALS_LISTED of those removed, oldest first.
    changes: tuple[MemberChange, ...] = ()
    # How many members' codes the file sets or clears (a file with codes).
    codes: int = 0


@retry_serialization_failures
def import_stock(
    stock: Mapping[str, Stock],
    *,
    replace: bool,
    dry_run: bool,
    by: str | None,
    listed: bool = False,
    codes: Mapping[str, Codes] | None = None,
) -> list[ImportedCollection]:
    """Set the quantities of ``stock`` (with ``replace``, each collection it
    names holds only its members afterwards), and the members' ``codes`` when
    the file carries them, as one transaction, each change logged (kind
    "import", or "code"); with ``dry_run`` only say what would change (and,
    ``listed``, list each change). 409 if a code stays with a member the file
    does not name."""
    codes = codes or {}
    outcome = []
    try:
        with write_transaction():
            for name, members in stock.items():
                plan = _import_plan(name, members, replace, listed)
                plan = _with_codes(plan, name, codes.get(name), replace)
                outcome.append(plan)
                if dry_run:
                    continue
                if replace:
                    replace_collection(name, dict(members), by=by, kind="import")
                else:
                    update_collection(name, dict(members), by=by, kind="import")
                if plan.codes:
                    write_codes(lock_existing_collection(name), codes[name], by)
    except CodeClash as clash:
        raise code_taken(clash.collection, clash.code) from None
    return outcome


def _with_codes(
    plan: ImportedCollection, name: str, codes: Codes | None, replace: bool
) -> ImportedCollection:
    """``plan`` with the number of codes the file changes in collection
    ``name``; CodeClash if one stays with a member the file does not name."""
    if not codes:
        return plan
    collection = lock_collection(name)
    changes = changed_codes(collection, codes)
    if not replace and (kept := kept_holder(collection, codes, changes)):
        raise CodeClash(name, kept[0])
    return plan._replace(codes=len(changes))


def _import_plan(
    name: str, members: Stock, replace: bool, listed: bool
) -> ImportedCollection:
    collection = lock_collection(name)
    if collection is None:
        added = tuple(MemberChange(member, None, n) for member, n in members.items())
        return ImportedCollection(
            name, True, len(members), 0, 0, 0, added if listed else ()
        )
    current = current_members(collection.id, members)
    set_or_added = [
        MemberChange(member, stored.quantity if stored else None, quantity)
        for member, quantity in members.items()
        if (stored := current.get(member)) is None or stored.quantity != quantity
    ]
    changed = len(set_or_added) - (len(members) - len(current))
    removed, removals = 0, []
    if replace:
        names = names_parameter(members)
        statements = for_dialect()
        removed = execute(
            statements.count_members_not_named, collection_id=collection.id, names=names
        ).one()[0]
        if listed and removed:
            removals = [
                MemberChange(member, quantity, None)
                for member, quantity in execute(
                    statements.members_not_named,
                    collection_id=collection.id,
                    names=names,
                    limit=MAX_REMOVALS_LISTED,
                )
            ]
    return ImportedCollection(
        name,
        False,
        len(members) - len(current),
        changed,
        len(current) - changed,
        removed,
        tuple(set_or_added + removals) if listed else (),
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
