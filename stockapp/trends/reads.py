"""A member's or a collection's quantity at each boundary, from the movement log.

One statement a series. The boundaries go in as a VALUES list; for each, the
quantity is the ``after`` of the member's last movement at or before it, found
by one seek in the index on (collection, member, at, id), never by reading the
member's whole log: a member with a million movements answers as fast as one
with ten. Before a member's first movement its quantity is that movement's
``before`` (0 when it was created then); after a delete, 0. Its reorder level
is the ``level_after`` of its last level movement, one seek in a partial index
holding only those; before the first, that one's ``level_before``; with none
logged, the level it has now (set before 0012 logged levels, or never set).

A collection's quantity is the sum over every member its log names, those
since deleted included (each counts until it was deleted): the collection's
total as it stood then. Its members are found by skipping through the same
index (one seek a member, not a read of the log), so the cost is one seek per
member per boundary.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, column, func, literal_column, select, values
from sqlalchemy.sql.elements import ColumnElement

from ..core.extensions import db
from ..history.models import Movement

# Written into the statement, not bound: only then may the database use the
# partial index of level movements (WHERE kind = 'level').
_LEVEL_KIND = literal_column("'level'")
# Stands for "no level" inside the statement, where NULL means "no movement".
_NO_LEVEL = -1


def _boundaries(points: tuple[datetime, ...]) -> Any:
    times = values(column("t", DateTime(timezone=True)), name="boundaries")
    return times.data([(point,) for point in points]).cte("boundaries")


def _quantity_at(
    collection: str, member: ColumnElement[Any] | str, at: ColumnElement[Any]
) -> ColumnElement[Any]:
    """The member's quantity at ``at``: after its last movement then, or
    before its first one."""
    moved = Movement.__table__.alias("moved")
    first = Movement.__table__.alias("earliest")
    last_after = (
        select(func.coalesce(moved.c.after, 0))
        .where(
            moved.c.collection == collection,
            moved.c.member == member,
            moved.c.at <= at,
        )
        .order_by(moved.c.at.desc(), moved.c.id.desc())
        .limit(1)
        .scalar_subquery()
        .correlate_except(moved)
    )
    first_before = (
        select(func.coalesce(first.c.before, 0))
        .where(first.c.collection == collection, first.c.member == member)
        .order_by(first.c.at, first.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(last_after, first_before, 0)


def _level_at(collection: str, member: str, at: ColumnElement[Any]) -> Any:
    """The member's reorder level at ``at`` (_NO_LEVEL: none), or NULL when
    no level movement tells (the level has not changed since it was logged)."""
    changed = Movement.__table__.alias("changed")
    first = Movement.__table__.alias("first_level")
    mine = (
        changed.c.collection == collection,
        changed.c.member == member,
        changed.c.kind == _LEVEL_KIND,
    )
    last_after = (
        select(func.coalesce(changed.c.level_after, _NO_LEVEL))
        .where(*mine, changed.c.at <= at)
        .order_by(changed.c.at.desc(), changed.c.id.desc())
        .limit(1)
        .scalar_subquery()
        .correlate_except(changed)
    )
    first_before = (
        select(func.coalesce(first.c.level_before, _NO_LEVEL))
        .where(
            first.c.collection == collection,
            first.c.member == member,
            first.c.kind == _LEVEL_KIND,
        )
        .order_by(first.c.at, first.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(last_after, first_before)


def member_series(
    collection: str,
    member: str,
    points: tuple[datetime, ...],
    level_now: int | None,
) -> list[tuple[int, int | None]]:
    """The member's quantity and reorder level at each of ``points``;
    ``level_now`` is its level where no level movement tells."""
    rows = db.session.execute(member_statement(collection, member, points)).all()
    return [(quantity, _level(level, level_now)) for quantity, level in rows]


def member_statement(collection: str, member: str, points: tuple[datetime, ...]) -> Any:
    """The statement of a member's series (its quantity and level columns)."""
    at = _boundaries(points)
    return (
        select(
            _quantity_at(collection, member, at.c.t),
            _level_at(collection, member, at.c.t),
        )
        .select_from(at)
        .order_by(at.c.t)
    )


def _level(level: int | None, level_now: int | None) -> int | None:
    if level is None:
        return level_now
    return None if level == _NO_LEVEL else level


def collection_series(collection: str, points: tuple[datetime, ...]) -> list[int]:
    """The sum of the quantities of the collection's members (all its log
    names) at each of ``points``."""
    statement = collection_statement(collection, points)
    return [int(quantity) for _, quantity in db.session.execute(statement).all()]


def collection_statement(collection: str, points: tuple[datetime, ...]) -> Any:
    """The statement of a collection's series (time, total)."""
    at = _boundaries(points)
    names = _member_names(collection)
    total = func.coalesce(func.sum(_quantity_at(collection, names.c.member, at.c.t)), 0)
    return (
        select(at.c.t, total)
        .select_from(at)
        .outerjoin(names, names.c.member.is_not(None))
        .group_by(at.c.t)
        .order_by(at.c.t)
    )


def _member_names(collection: str) -> Any:
    """Each member name the collection's log holds, found by skipping from one
    to the next through the index (a recursive CTE: a loose index scan)."""
    logged = Movement.__table__.alias("logged")
    names = (
        select(func.min(logged.c.member).label("member"))
        .where(logged.c.collection == collection)
        .cte("names", recursive=True)
    )
    following = Movement.__table__.alias("following")
    after = (
        select(func.min(following.c.member))
        .where(
            following.c.collection == collection,
            following.c.member > names.c.member,
        )
        .scalar_subquery()
    )
    return names.union_all(
        select(after.label("member")).where(names.c.member.is_not(None))
    )
