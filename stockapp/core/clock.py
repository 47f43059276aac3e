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
