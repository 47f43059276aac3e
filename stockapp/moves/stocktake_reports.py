"""What a stocktake says: its report (every count, its variance and what the
commit sets or set, and the members nobody counted), the list of stocktakes,
and the refusals the units of work in ``stocktakes`` answer with.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Executable,
    and_,
    bindparam,
    cast,
    exists,
    func,
    null,
    select,
    union_all,
)

from ..core import driver
from ..core.clock import utc_text
from ..core.cursors import MAX_ID
from ..core.database import read, write_connection
from ..core.errors import Problem
from ..core.extensions import db
from ..core.rules import MAX_QUANTITY
from ..stock.models import Collection, Member
from .models import Stocktake, StocktakeCount

# The errors of the units of work, shared by their answers and the API document.
STOCKTAKE_NOT_FOUND = "Stocktake not found"
STOCKTAKE_CLOSED = "Stocktake closed"
COLLECTION_DELETED = "Collection deleted"

stocktakes = Stocktake.__table__
counts = StocktakeCount.__table__
collections = Collection.__table__
members = Member.__table__

_STOCKTAKE = select(
    stocktakes.c.id,
    stocktakes.c.collection,
    stocktakes.c.note,
    stocktakes.c.state,
    stocktakes.c.opened_by,
    stocktakes.c.opened_at,
    stocktakes.c.closed_by,
    stocktakes.c.closed_at,
    stocktakes.c.uncounted,
)
STOCKTAKE = _STOCKTAKE.where(stocktakes.c.id == bindparam("stocktake_id"))

# Every member of the stocktake's collection with its count, if any, and then
# each count of a member the collection no longer has: one statement, so one
# snapshot (a count landing meanwhile is in one list or the other, never in
# neither).
_OF_COLLECTION = (
    select(collections.c.id)
    .where(collections.c.name == bindparam("collection"))
    .scalar_subquery()
)
_COUNT_COLUMNS = (
    counts.c.quantity,
    counts.c.stored_quantity,
    counts.c.stored_version,
    counts.c.counted_by,
    counts.c.counted_at,
    counts.c.before,
    counts.c.after,
)
REPORT_ROWS = union_all(
    select(
        members.c.id.label("member_id"),
        members.c.name.label("member"),
        members.c.quantity.label("now"),
        *_COUNT_COLUMNS,
    )
    .select_from(
        members.outerjoin(
            counts,
            and_(
                counts.c.stocktake_id == bindparam("stocktake_id"),
                counts.c.member == members.c.name,
            ),
        )
    )
    .where(members.c.collection_id == _OF_COLLECTION),
    select(
        cast(null(), BigInteger).label("member_id"),
        counts.c.member,
        cast(null(), BigInteger).label("now"),
        *_COUNT_COLUMNS,
    ).where(
        counts.c.stocktake_id == bindparam("stocktake_id"),
        ~exists().where(
            members.c.collection_id == _OF_COLLECTION,
            members.c.name == counts.c.member,
        ),
    ),
)


# Answers ----------------------------------------------------------------------


def not_found(stocktake_id: int) -> Problem:
    return Problem(404, STOCKTAKE_NOT_FOUND, f"There is no stocktake {stocktake_id}.")


def closed(stocktake_id: int, state: str) -> Problem:
    return Problem(
        409,
        STOCKTAKE_CLOSED,
        f"Stocktake {stocktake_id} is {state}: it can no longer change;"
        " nothing was changed.",
        state=state,
    )


def collection_deleted(stocktake_id: int, collection: str) -> Problem:
    return Problem(
        409,
        COLLECTION_DELETED,
        f'Collection "{collection}" was deleted after stocktake {stocktake_id}'
        " was opened; nothing was changed. Cancel the stocktake.",
    )


def _time(at: Any) -> str | None:
    return None if at is None else utc_text(at)


def _summary(row: Any, counted: int) -> dict[str, Any]:
    return {
        "id": row.id,
        "collection": row.collection,
        "note": row.note,
        "state": row.state,
        "opened_by": row.opened_by,
        "opened_at": utc_text(row.opened_at),
        "closed_by": row.closed_by,
        "closed_at": _time(row.closed_at),
        "counted": counted,
    }


def quantity_after(now: int, variance: int) -> int:
    """What the commit sets a member to: its quantity now plus the variance,
    kept within 0..2^63-1."""
    return min(MAX_QUANTITY, max(0, now + variance))


def count_json(
    state: str,
    member: str,
    row: Any,
    now: int | None,
) -> dict[str, Any]:
    """One entry of a report's ``counts``: ``row`` holds the count's columns,
    ``now`` the member's quantity now (None: it is gone)."""
    variance = row.quantity - row.stored_quantity
    if state == "committed":
        # What the commit found and set, as it stored them.
        expected, after = row.before, row.after
    else:
        expected = now
        after = (
            None if now is None or state != "open" else quantity_after(now, variance)
        )
    return {
        "member": member,
        "counted": row.quantity,
        "stored_then": row.stored_quantity,
        "version_then": row.stored_version,
        "expected": expected,
        "variance": variance,
        "after": after,
        "counted_by": row.counted_by,
        "counted_at": utc_text(row.counted_at),
    }


def _rows(statement: Executable, **params: Any) -> list[Any]:
    """The rows of a read: inside a write transaction on its connection (so it
    sees what the transaction wrote), else on a connection of its own."""
    connection = write_connection()
    if connection is not None:
        return list(driver.execute(connection, statement, params))
    return list(read(statement, **params))


def report_of(stocktake: Any) -> dict[str, Any]:
    """The whole report of ``stocktake`` (its row), read now."""
    rows = _rows(
        REPORT_ROWS, stocktake_id=stocktake.id, collection=stocktake.collection
    )
    counted, uncounted = [], []
    for row in rows:
        if row.quantity is None:
            uncounted.append((row.member_id, row.member))
        else:
            counted.append(row)
    # In the members' creation order; those the collection no longer has last,
    # by name.
    counted.sort(
        key=lambda row: (row.member_id is None, row.member_id or 0, row.member)
    )
    uncounted.sort()
    return {
        **_summary(stocktake, len(counted)),
        "uncounted_policy": stocktake.uncounted,
        "counts": [
            count_json(stocktake.state, row.member, row, row.now) for row in counted
        ],
        "uncounted": [name for _, name in uncounted],
    }


def in_range(stocktake_id: int) -> bool:
    # A larger id was never given out, and SQLite cannot bind it.
    return 0 < stocktake_id <= MAX_ID


def seen_by(row: Any, only: frozenset[str] | None) -> bool:
    return row is not None and (only is None or row.collection in only)


# Reads ------------------------------------------------------------------------


def stocktake_report(
    stocktake_id: int, only: frozenset[str] | None = None
) -> dict[str, Any]:
    """The stocktake with every count, its variance and what the commit sets
    (or set), and the members not counted; 404 if there is no such stocktake
    or its collection is not in ``only``."""
    found = (
        _rows(STOCKTAKE, stocktake_id=stocktake_id) if in_range(stocktake_id) else []
    )
    if not found or not seen_by(found[0], only):
        raise not_found(stocktake_id)
    return report_of(found[0])


def list_stocktakes(
    only: frozenset[str] | None,
    state: str | None = None,
    collection: str | None = None,
) -> list[dict[str, Any]]:
    """The stocktakes of the collections in ``only`` (None: all), newest first,
    narrowed to ``state`` and ``collection`` when given."""
    counted = (
        select(func.count())
        .where(counts.c.stocktake_id == stocktakes.c.id)
        .scalar_subquery()
    )
    query = _STOCKTAKE.add_columns(counted.label("counted")).order_by(
        stocktakes.c.id.desc()
    )
    if state is not None:
        query = query.where(stocktakes.c.state == state)
    if collection is not None:
        query = query.where(stocktakes.c.collection == collection)
    if only is not None:
        query = query.where(stocktakes.c.collection.in_(sorted(only)))
    rows = db.session.execute(query).all()
    db.session.rollback()
    return [_summary(row, row.counted) for row in rows]
