"""The series tests' clock: where it starts, and times as the series writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Where the test clock starts: every movement a test makes is logged after it.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    """The time the next movement is logged at; ``advance`` moves it on."""

    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def stamp(at: datetime) -> str:
    """``at`` as the series writes it."""
    plain = at.astimezone(UTC).replace(tzinfo=None)
    return plain.isoformat(timespec="microseconds") + "Z"
