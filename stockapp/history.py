"""The movement log, read newest first a page at a time."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from .extensions import db
from .models import Movement
from .validation import ValidationError

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_CURSOR_PREFIX = "before:"


def page_params(args: Mapping[str, str]) -> tuple[int, int | None]:
    """Read ``limit`` and ``cursor`` from a query string: (limit, last id seen)."""
    errors: dict[str, str] = {}
    limit = DEFAULT_LIMIT
    raw_limit = args.get("limit")
    if raw_limit is not None:
        if raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 4:
            limit = int(raw_limit)
        if raw_limit != str(limit) or not 1 <= limit <= MAX_LIMIT:
            errors["limit"] = f"must be a whole number from 1 to {MAX_LIMIT}"
    before_id = None
    raw_cursor = args.get("cursor")
    if raw_cursor is not None:
        before_id = _decode_cursor(raw_cursor)
        if before_id is None:
            errors["cursor"] = "is not a cursor this API gave out"
    if errors:
        raise ValidationError(errors)
    return limit, before_id


def encode_cursor(before_id: int) -> str:
    """The opaque cursor of the page that starts below movement ``before_id``."""
    raw = f"{_CURSOR_PREFIX}{before_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (UnicodeError, binascii.Error, ValueError):
        return None
    digits = text.removeprefix(_CURSOR_PREFIX)
    if text == digits or not digits.isdigit() or len(digits) > 19:
        return None
    return int(digits)


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
    return {
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


def utc_text(at: datetime) -> str:
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones.
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds") + "Z"
