"""The one clock: aware UTC now, and the text every answer writes a time as."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_text(at: datetime) -> str:
    """``at`` as UTC to the microsecond, ``2026-11-23T20:55:09.123456Z``."""
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones.
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds") + "Z"


def as_utc(at: datetime) -> datetime:
    """``at`` as an aware UTC time (SQLite hands back naive ones, stored as UTC)."""
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at.astimezone(UTC)
