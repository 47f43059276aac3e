"""The movement log, read newest first a page at a time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..core.clock import utc_text
from ..core.cursors import Pages
from ..core.extensions import db
from .models import DETAILS, GROUPS, Movement

# Newest first: a cursor names the id a page starts below.
HISTORY_PAGES = Pages(prefix="before:", default_limit=50, max_limit=500)


def movements_page(
    collection: str, member: str | None, limit: int, before_id: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of movements, newest first, and the id the next page starts below.

    It seeks by id through an index, so page 1000 costs what page 1 does.
    """
    query = select(Movement).where(Movement.collection == collection)
    if member is not None:
        query = query.where(Movement.member == member)
    if before_id is not None:
        query = query.where(Movement.id < before_id)
    rows = (
        db.session.execute(query.order_by(Movement.id.desc()).limit(limit + 1))
        .scalars()
        .all()
    )
    next_before = rows[limit - 1].id if len(rows) > limit else None
    return [_as_json(row) for row in rows[:limit]], next_before


def _as_json(movement: Movement) -> dict[str, Any]:
    row = {
        "id": movement.id,
        "collection": movement.collection,
        "member": movement.member,
        "kind": movement.kind,
        "before": movement.before,
        "after": movement.after,
        "reason": movement.reason,
        "by": movement.by,
        "at": utc_text(movement.at),
    }
    # What it went with, only when anything: most movements go alone.
    for group in GROUPS:
        value = getattr(movement, group)
        if value is not None:
            row[group] = value
    # What a change of a detail changed, only for its kind.
    for name in DETAILS.get(movement.kind, ()):
        row[name] = getattr(movement, name)
    return row


def last_movement_by(collection: str, member: str) -> str | None:
    """Who made the member's latest movement (None: nobody named, or none)."""
    return db.session.execute(
        select(Movement.by)
        .where(Movement.collection == collection, Movement.member == member)
        .order_by(Movement.id.desc())
        .limit(1)
    ).scalar_one_or_none()
