"""Fixtures of the series: a clock the movement log reads, moved by the test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

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


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The movement log's clock, under the test's control."""
    moved = Clock()
    monkeypatch.setattr("stockapp.stock.ledger.utcnow", moved)
    return moved


def stamp(at: datetime) -> str:
    """``at`` as the series writes it."""
    return (
        at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    )
