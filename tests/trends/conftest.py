"""Fixtures of the series: a clock the movement log reads, moved by the test."""

from __future__ import annotations

import pytest
from series_clock import Clock


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The movement log's clock, under the test's control."""
    moved = Clock()
    monkeypatch.setattr("stockapp.stock.ledger.utcnow", moved)
    return moved
