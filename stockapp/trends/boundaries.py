"""A series' range and step, read from a query string, and its boundaries.

Pure functions, no database: ``from`` and ``to`` are ISO 8601 dates or times
(UTC unless they name an offset; a date is its midnight UTC), ``step`` one of
hour, day, week, month or a whole number of seconds. A series has a point at
``from`` and at each step after it up to ``to``; at most ``MAX_POINTS`` of them,
so that no request asks the database for a million seeks.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..core.rules import ValidationError

# The most points one series answers with (the one place for the limit).
MAX_POINTS = 1000
# Without from and to: the last 30 days, a point a day.
DEFAULT_SPAN = timedelta(days=30)
DEFAULT_STEP = "day"
# The steps by name; a month is a calendar month (month below).
NAMED_STEPS = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": None,
}
# A step in seconds: up to ten digits (three centuries), never zero or signed.
SECONDS_PATTERN = "[1-9][0-9]{0,9}"
_SECONDS = re.compile(SECONDS_PATTERN)
# The ISO 8601 forms from and to take: a date, or a date and time to the
# minute, second or microsecond, with Z or an offset or neither (UTC). The
# pattern says the shape; whether the day is in its month, datetime says.
TIME_PATTERN = (
    "[0-9]{4}-[0-9]{2}-[0-9]{2}"
    "(T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
_TIME = re.compile(TIME_PATTERN)
_EARLIEST = datetime.min.replace(tzinfo=UTC)

TIME_RULE = (
    "must be an ISO 8601 date or time, such as 2026-12-01 or 2026-12-01T08:00:00Z"
)
STEP_RULE = (
    "must be hour, day, week, month or a whole number of seconds from 1 to 9999999999"
)
ORDER_RULE = "must not be after to"
TOO_MANY_POINTS = (
    f"makes more than {MAX_POINTS} points from from to to: choose a longer step"
    " or a shorter range"
)


@dataclass(frozen=True)
class Window:
    """The range of a series, its step as asked, and the times of its points."""

    start: datetime
    end: datetime
    # A step's name, or its length in seconds.
    step: str | int
    points: tuple[datetime, ...]


def window(args: Mapping[str, str], now: datetime) -> Window:
    """The window ``args`` ask for (``from``, ``to``, ``step``), or
    ValidationError naming each bad one."""
    errors: dict[str, str] = {}
    start = _time(args.get("from"), "from", errors)
    end = _time(args.get("to"), "to", errors)
    step = _step(args.get("step", DEFAULT_STEP), errors)
    if errors:
        raise ValidationError(errors)
    if end is None:
        end = now if start is None or start <= now else start
    if start is None:
        start = _earlier(end, DEFAULT_SPAN)
    if start > end:
        raise ValidationError({"from": ORDER_RULE})
    points = boundaries(start, end, step)
    if points is None:
        raise ValidationError({"step": TOO_MANY_POINTS})
    return Window(start, end, step, points)


def boundaries(
    start: datetime, end: datetime, step: str | int
) -> tuple[datetime, ...] | None:
    """The times from ``start`` a ``step`` apart up to ``end``; None if more
    than MAX_POINTS."""
    if step == "month":
        return _months(start, end)
    length = timedelta(seconds=step) if isinstance(step, int) else NAMED_STEPS[step]
    assert length is not None
    if (end - start) // length >= MAX_POINTS:
        return None
    count = (end - start) // length + 1
    return tuple(start + index * length for index in range(count))


def _months(start: datetime, end: datetime) -> tuple[datetime, ...] | None:
    # The same day of each month as start's, or the month's last when shorter.
    months = (end.year - start.year) * 12 + end.month - start.month
    if months >= MAX_POINTS + 1:
        return None
    points = []
    for index in range(months + 1):
        year, month = divmod(start.month - 1 + index, 12)
        year += start.year
        day = min(start.day, calendar.monthrange(year, month + 1)[1])
        point = start.replace(year=year, month=month + 1, day=day)
        if point > end:
            break
        points.append(point)
    return None if len(points) > MAX_POINTS else tuple(points)


def _time(text: str | None, key: str, errors: dict[str, str]) -> datetime | None:
    if text is None:
        return None
    try:
        if not _TIME.fullmatch(text):
            raise ValueError(text)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        errors[key] = TIME_RULE
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00+01:00 is before the first time a datetime holds.
        errors[key] = TIME_RULE
        return None


def _step(text: str, errors: dict[str, str]) -> str | int:
    if text in NAMED_STEPS:
        return text
    if _SECONDS.fullmatch(text):
        return int(text)
    errors["step"] = STEP_RULE
    return DEFAULT_STEP


def _earlier(end: datetime, span: timedelta) -> datetime:
    try:
        return end - span
    except OverflowError:
        return _EARLIEST
