"""Stocktakes: a count of one collection's shelf, member by member, made by
several clerks at once, that becomes the stock when it is committed.

Each count keeps the member's quantity and version when it was counted, so the
commit applies the variance (counted minus stored then) to the quantity as it
is at the commit: a sale between the count and the commit is not a loss.

Counting takes a shared lock on the stocktake's row and committing or
cancelling an exclusive one (SQLite's write lock serializes all three): a count
either lands before the commit, and is applied, or waits and is refused.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import Executable, and_, bindparam, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..core.clock import utcnow
from ..core.database import (
    dialect_name,
    retry_serialization_failures,
    write_transaction,
)
from ..core.errors import Problem
from ..core.rules import ValidationError, quantity_problem
from ..stock.ledger import (
    COLLECTION_NOT_FOUND,
    LockedCollection,
    StoredMember,
    apply_changes,
    current_members,
    execute,
    execute_many,
    lock_collection,
    member_not_found,
    movement_group,
)
from .stocktake_input import UNCOUNTED_POLICIES, UNCOUNTED_RULE
from .stocktake_reports import (
    STOCKTAKE,
    closed,
    collection_deleted,
    collections,
    count_json,
    counts,
    in_range,
    members,
    not_found,
    quantity_after,
    report_of,
    seen_by,
    stocktakes,
)

# The movement log's kind for what a commit changes.
KIND = "stocktake"


# Statements, built once ----------------------------------------------------------

# Counting shares the row with other counts; a commit or a cancel waits for
# them, and they for it (on SQLite the write lock does both).
LOCK_FOR_COUNT = STOCKTAKE.with_for_update(read=True)
LOCK_FOR_CLOSE = STOCKTAKE.with_for_update()

COLLECTION_ID = select(collections.c.id).where(collections.c.name == bindparam("name"))

INSERT_STOCKTAKE = (
    insert(stocktakes)
    .values(
        {
            name: bindparam(name)
            for name in ("collection", "note", "state", "opened_by", "opened_at")
        }
    )
    .returning(stocktakes.c.id)
)

# The collection's id (a row, or none if it is gone) and the member's quantity
# and version (null if it has no such member), in one lookup.
MEMBER_NOW = (
    select(collections.c.id, members.c.quantity, members.c.version)
    .select_from(
        collections.outerjoin(
            members,
            and_(
                members.c.collection_id == collections.c.id,
                members.c.name == bindparam("member"),
            ),
        )
    )
    .where(collections.c.name == bindparam("collection"))
)

_COUNT_VALUES = (
    "stocktake_id",
    "member",
    "quantity",
    "stored_quantity",
    "stored_version",
    "counted_by",
    "counted_at",
)
# A recount replaces the count: what the clerk saw last is what is there.
RECOUNT = (
    update(counts)
    .where(
        counts.c.stocktake_id == bindparam("stocktake_id"),
        counts.c.member == bindparam("member"),
    )
    .values(
        quantity=bindparam("new_quantity"),
        stored_quantity=bindparam("new_stored_quantity"),
        stored_version=bindparam("new_stored_version"),
        counted_by=bindparam("new_counted_by"),
        counted_at=bindparam("new_counted_at"),
    )
)

COUNTS = select(
    counts.c.member, counts.c.quantity, counts.c.stored_quantity, counts.c.counted_by
).where(counts.c.stocktake_id == bindparam("stocktake_id"))

_COUNTED = exists().where(
    counts.c.stocktake_id == bindparam("stocktake_id"),
    counts.c.member == members.c.name,
)
# The members nobody counted that hold anything, oldest first, as
# ledger.current_members gives members.
UNCOUNTED_HOLDING = (
    select(
        members.c.name,
        members.c.id,
        members.c.quantity,
        members.c.version,
        members.c.reorder_level,
    )
    .where(
        members.c.collection_id == bindparam("collection_id"),
        members.c.quantity > 0,
        ~_COUNTED,
    )
    .order_by(members.c.id)
)

SET_COUNT_RESULT = (
    update(counts)
    .where(
        counts.c.stocktake_id == bindparam("stocktake_id"),
        counts.c.member == bindparam("counted_member"),
    )
    .values(before=bindparam("quantity_before"), after=bindparam("quantity_after"))
)

CLOSE_STOCKTAKE = (
    update(stocktakes)
    .where(stocktakes.c.id == bindparam("stocktake_id"))
    .values(
        state=bindparam("new_state"),
        closed_by=bindparam("closer"),
        closed_at=bindparam("closing_time"),
        uncounted=bindparam("policy"),
    )
)


@functools.cache
def _first_count(dialect: str) -> Executable:
    """Store a count unless the member has one: the member's name if stored."""
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # DO NOTHING and then an UPDATE rather than one DO UPDATE: the answer must
    # say whether this count made the member's (201) or replaced it (200),
    # which a DO UPDATE's RETURNING cannot tell. Two clerks counting one member
    # at once: the second waits for the first's row, finds it, replaces it.
    return (
        insert_for(counts)
        .values({name: bindparam(name) for name in _COUNT_VALUES})
        .on_conflict_do_nothing(index_elements=["stocktake_id", "member"])
        .returning(counts.c.member)
    )


# Units of work ----------------------------------------------------------------


@retry_serialization_failures
def open_stocktake(
    collection: str,
    note: str | None,
    *,
    by: str | None,
    only: frozenset[str] | None = None,
) -> int:
    """Open a count of ``collection`` and return its id; 404 if there is no
    such collection, or it is not in ``only`` (the same answer)."""
    with write_transaction():
        seen = only is None or collection in only
        if not seen or execute(COLLECTION_ID, name=collection).one_or_none() is None:
            raise Problem(
                404, COLLECTION_NOT_FOUND, f'There is no collection "{collection}".'
            )
        return (
            execute(
                INSERT_STOCKTAKE,
                collection=collection,
                note=note,
                state="open",
                opened_by=by,
                opened_at=utcnow(),
            )
            .one()
            .id
        )


def _lock(statement: Executable, stocktake_id: int, only: frozenset[str] | None) -> Any:
    """The stocktake's row, locked by ``statement``; 404 if it is not there or
    not seen, 409 unless it is open."""
    row = (
        execute(statement, stocktake_id=stocktake_id).one_or_none()
        if in_range(stocktake_id)
        else None
    )
    if not seen_by(row, only):
        raise not_found(stocktake_id)
    if row.state != "open":
        raise closed(stocktake_id, row.state)
    return row


class _Count(NamedTuple):
    """A count just recorded, as the report's rows give one."""

    quantity: int
    stored_quantity: int
    stored_version: int
    counted_by: str | None
    counted_at: Any
    before: int | None = None
    after: int | None = None


@retry_serialization_failures
def record_count(
    stocktake_id: int,
    member: str,
    quantity: int,
    *,
    by: str | None,
    only: frozenset[str] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Record that ``by`` counted ``quantity`` of ``member``, replacing any
    earlier count of it; the count as the report shows it, and whether it is
    the member's first. 404 for no such stocktake or member, 409 if the
    stocktake is closed or its collection deleted."""
    if why := quantity_problem(quantity):
        raise ValidationError({"quantity": why})
    with write_transaction():
        stocktake = _lock(LOCK_FOR_COUNT, stocktake_id, only)
        found = execute(
            MEMBER_NOW, collection=stocktake.collection, member=member
        ).one_or_none()
        if found is None:
            raise collection_deleted(stocktake_id, stocktake.collection)
        if found.quantity is None:
            raise member_not_found(stocktake.collection, member)
        at = utcnow()
        values = {
            "stocktake_id": stocktake_id,
            "member": member,
            "quantity": quantity,
            "stored_quantity": found.quantity,
            "stored_version": found.version,
            "counted_by": by,
            "counted_at": at,
        }
        first = execute(_first_count(dialect_name()), **values).one_or_none()
        if first is None:
            execute(
                RECOUNT,
                stocktake_id=stocktake_id,
                member=member,
                **{f"new_{key}": values[key] for key in _COUNT_VALUES[2:]},
            )
    count = count_json(
        "open",
        member,
        _Count(quantity, found.quantity, found.version, by, at),
        found.quantity,
    )
    return count, first is not None


def _reason(stocktake_id: int, counter: str | None) -> str:
    who = "anonymously" if counter is None else f"by {counter}"
    return f"stocktake {stocktake_id}, counted {who}"


def _apply(
    collection: LockedCollection,
    stored: dict[str, StoredMember],
    changes: dict[str, int],
    reason: str,
    by: str | None,
) -> LockedCollection:
    """Apply ``changes`` as movements of kind stocktake; the collection as it
    then is (its version bumped if anything changed)."""
    version, _ = apply_changes(collection, stored, changes, KIND, by, reason)
    return collection._replace(version=version)


def _members_named(rows: Iterable[Any]) -> dict[str, StoredMember]:
    return {
        row.name: StoredMember(row.id, row.quantity, row.version, row.reorder_level)
        for row in rows
    }


@retry_serialization_failures
def commit_stocktake(
    stocktake_id: int,
    *,
    uncounted: str = "leave",
    by: str | None,
    only: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Set each counted member to its quantity now plus its variance, and the
    members nobody counted to 0 if ``uncounted`` is "zero", as movements of
    kind stocktake, in one transaction; the report after. 404 for no such
    stocktake, 409 if it is not open or its collection was deleted.

    A member counted but deleted since is left alone. The movements of each
    clerk's counts are logged together, their reason naming the clerk: a few
    statements per clerk, whatever the number of members.
    """
    if uncounted not in UNCOUNTED_POLICIES:
        raise ValidationError({"uncounted": UNCOUNTED_RULE})
    with write_transaction(), movement_group(stocktake=stocktake_id):
        stocktake = _lock(LOCK_FOR_CLOSE, stocktake_id, only)
        collection = lock_collection(stocktake.collection)
        if collection is None:
            raise collection_deleted(stocktake_id, stocktake.collection)
        found = {
            row.member: row for row in execute(COUNTS, stocktake_id=stocktake_id).all()
        }
        stored = current_members(collection.id, found)
        # Each clerk's counts as one group of changes, in the members'
        # creation order (current_members gives them so).
        by_counter: dict[str | None, dict[str, int]] = {}
        results = []
        for name, member in stored.items():
            count = found[name]
            after = quantity_after(
                member.quantity, count.quantity - count.stored_quantity
            )
            by_counter.setdefault(count.counted_by, {})[name] = after
            results.append(
                {
                    "stocktake_id": stocktake_id,
                    "counted_member": name,
                    "quantity_before": member.quantity,
                    "quantity_after": after,
                }
            )
        for counter, changes in by_counter.items():
            collection = _apply(
                collection, stored, changes, _reason(stocktake_id, counter), by
            )
        if uncounted == "zero":
            holding = _members_named(
                execute(
                    UNCOUNTED_HOLDING,
                    collection_id=collection.id,
                    stocktake_id=stocktake_id,
                ).all()
            )
            zeroes = dict.fromkeys(holding, 0)
            reason = f"stocktake {stocktake_id}, not counted"
            collection = _apply(collection, holding, zeroes, reason, by)
        if results:
            execute_many(SET_COUNT_RESULT, results)
        _close(stocktake_id, "committed", by, uncounted)
        return report_of(execute(STOCKTAKE, stocktake_id=stocktake_id).one())


@retry_serialization_failures
def cancel_stocktake(
    stocktake_id: int, *, by: str | None, only: frozenset[str] | None = None
) -> dict[str, Any]:
    """Close the stocktake without changing any stock; the report after. 404
    for no such stocktake, 409 if it is not open."""
    with write_transaction():
        _lock(LOCK_FOR_CLOSE, stocktake_id, only)
        _close(stocktake_id, "cancelled", by, None)
        return report_of(execute(STOCKTAKE, stocktake_id=stocktake_id).one())


def _close(stocktake_id: int, state: str, by: str | None, policy: str | None) -> None:
    execute(
        CLOSE_STOCKTAKE,
        stocktake_id=stocktake_id,
        new_state=state,
        closer=by,
        closing_time=utcnow(),
        policy=policy,
    )
